"""Discovery nets on the runtime: prepared by dfm.irgen, generated, run across sites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from runtime_testkit import Harness, start

from dfm.api import (
    DISCOVERY_PLACE_NAME,
    STATUS_PLACE_NAME,
    Advise,
    DecodePolicy,
    ErrorToken,
    FedInfo,
    Frame,
    NodeId,
    NodeParam,
    Operation,
    Pipeline,
    PlaceParam,
    StopToken,
    encode_value,
)
from dfm.api.discovery import (
    AdvisedLiteral,
    AdvisedOneOf,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    SingleFieldAdvice,
)
from dfm.irgen import (
    AdapterDiscovery,
    AdviceEntry,
    AdviceReport,
    NetIR,
    StmtValue,
    TokenSend,
    Transition,
    prepare,
)
from dfm.runtime.codegen import _generate as codegen_generate
from dfm.runtime.codegen import generate_net_source

P = Any | NodeParam | PlaceParam | Advise


class Shirt(Operation):
    dfm_class_name: Literal["discotest.Shirt"] = "discotest.Shirt"
    __api_name__ = "shop.Shirt"
    color: P = None
    size: P = None


class Count(Operation):
    dfm_class_name: Literal["discotest.Count"] = "discotest.Count"
    __api_name__ = "shop.Count"
    of: P = None


ADAPTERS = """
from dfm.api.discovery import AdvisedLiteral, AdvisedOneOf
from dfm.runtime import build_advice, field_advisor


class Shirts:
    def __init__(self, sizes):
        self.sizes = sizes

    @field_advisor("color", order=0)
    async def advise_color(self, value, context):
        return AdvisedOneOf(["red", "green"], split_on_advice=True)

    @field_advisor("size", order=1)
    def advise_size(self, value, context):
        if context.get("color") == "red":
            return AdvisedOneOf(self.sizes)
        return AdvisedLiteral("L")

    async def body(self, color, size):
        return f"{color} {size}"


class Counter:
    def body(self, of):
        return len(of)


class ThisSite(Site):
    SIZES = ["S", "M"]

    def __init__(self, dfm_context, **kwargs):
        super().__init__(dfm_context, **kwargs)
        self.shirts = Shirts(self.SIZES)
        self.counter = Counter()

    async def discover_shop_Shirt(self, **kwargs):
        return await build_advice(self.shirts, **kwargs)

    async def discover_shop_Count(self, **kwargs):
        return await build_advice(self.counter, **kwargs)
"""

S1 = (
    ADAPTERS
    + """

class ThisSite(ThisSite):
    SIZES = ["XS"]

    def discover_shop_Count(self, **kwargs):  # a hand-written sync method works too
        raise RuntimeError("the counter is offline")
"""
)


def _fed_info() -> FedInfo:
    ops = {"shop.Shirt": {"operation": "shop.Shirt"}, "shop.Count": {"operation": "shop.Count"}}
    return FedInfo.model_validate(
        {
            "sites": {
                "app": {"interface": {"shop.Shirt": ops["shop.Shirt"]}},
                "s1": {"interface": ops},
            }
        }
    )


def _discovered(h: Harness) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for r in h.received:
        if r.place == DISCOVERY_PLACE_NAME:
            assert r.frame == Frame([0]) and r.node is None and r.site not in found
            found[r.site] = r.value
    return found


def _branches(sizes: list[str]) -> BranchFieldAdvice:
    return BranchFieldAdvice(
        "color",
        [
            ("red", SingleFieldAdvice("size", AdvisedOneOf(sizes))),
            ("green", SingleFieldAdvice("size", AdvisedLiteral("L"))),
        ],
    )


@pytest.mark.parametrize("policy", [None, DecodePolicy()], ids=["trusted", "no-pickle"])
async def test_two_sites_advise_their_replicas(
    make_federation: Callable[..., str], policy: DecodePolicy | None
) -> None:
    fed = make_federation({"app": ADAPTERS, "s1": S1})
    with Pipeline(mode="discovery", api_version="1.0") as p:
        shirt = Shirt(color=Advise(), size=PlaceParam(place="size"))
        count = Count(of=shirt)
        red = Shirt(color="red", size="M")
    prepared = prepare(p, _fed_info(), "app", fed)
    kwargs = {} if policy is None else {"decode_policy": policy}
    h = Harness(prepared.net_irs(), **kwargs)
    await h.run([{}])
    shirt_id, count_id, red_id = shirt.dfm_node_id, count.dfm_node_id, red.dfm_node_id
    assert (shirt_id, count_id, red_id) == (NodeId(ident=0), NodeId(ident=1), NodeId(ident=2))
    assert _discovered(h) == {
        "app": [(shirt_id, _branches(["S", "M"])), (red_id, None)],
        "s1": [
            (shirt_id, _branches(["XS"])),
            (
                count_id,
                ErrorFieldAdvice(
                    "Discovery with discover_shop_Count failed: RuntimeError: the counter is "
                    "offline"
                ),
            ),
            (
                red_id,
                SingleFieldAdvice(
                    "size", "M", ErrorFieldAdvice("Expected one of ['XS'] but got M")
                ),
            ),
        ],
    }
    # Discovery errors are advice, not failed frames.
    assert h.on(STATUS_PLACE_NAME) == {Frame([0]): StopToken(), Frame.stop_frame(): StopToken()}
    assert not any(isinstance(r.value, ErrorToken) for r in h.received)


async def test_a_site_without_the_method_reports_an_error_entry(
    make_federation: Callable[..., str],
) -> None:
    fed = make_federation({"app": "class ThisSite(Site):\n    pass\n"})
    with Pipeline(mode="discovery", api_version="1.0") as p:
        Shirt()
    fed_info = FedInfo.model_validate(
        {"sites": {"app": {"interface": {"shop.Shirt": {"operation": "shop.Shirt"}}}}}
    )
    h = Harness(prepare(p, fed_info, "app", fed).net_irs())
    await h.run([{}])
    ((node, advice),) = _discovered(h)["app"]
    assert node == NodeId(ident=0) and isinstance(advice, ErrorFieldAdvice)
    assert "discover_shop_Shirt failed: AttributeError" in advice.msg


def _net(*body: Any, sends: list[TokenSend] | None = None) -> NetIR:
    return NetIR(
        site="app",
        homesite="app",
        federation_name="fed",
        transitions=[
            Transition(
                name="_discovery_",
                inputs=[start("s")],
                body=list(body),
                sends=sends
                if sends is not None
                else [
                    TokenSend(
                        site="app",
                        place=DISCOVERY_PLACE_NAME,
                        is_yield=True,
                        data=StmtValue(stmt_id="r"),
                    )
                ],
            )
        ],
        external={"__start_place__": ["s"]},
    )


def _disc(node_id: Any = 0, adapter: str = "shop.Shirt", **kw: Any) -> AdapterDiscovery:
    return AdapterDiscovery(stmt_id="d", node_id=node_id, adapter=adapter, **kw)


def _report(*entries: tuple[Any, str]) -> AdviceReport:
    return AdviceReport(
        stmt_id="r", entries=[AdviceEntry(node_id=n, stmt_id=s) for n, s in entries]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # The site refuses the names first (naming the field; see test_netir_hostile.py).
        ((_disc(adapter="x); import os; ("), _report((0, "d"))), r"adapter: .* not a dotted name"),
        ((_disc(provider="a.b"), _report((0, "d"))), "provider: 'a.b' is not a valid name"),
        ((_disc(provider="import"), _report((0, "d"))), "provider: 'import' is a Python keyword"),
        ((_disc(node_id="x; y"), _report((0, "d"))), "node_id: 'x; y' is not a valid name"),
        ((_disc(), _report(("0)); import os #", "d"))), r"entries\[0\]\.node_id: .* not a valid"),
        ((_disc(), _report((0, "elsewhere"))), "'elsewhere' is not computed before the report"),
        ((_report((0, "d")), _disc()), "'d' is not computed before the report"),
        ((_disc(), AdviceReport(stmt_id="d")), "statement 'd' defined twice"),
    ],
)
def test_received_names_are_checked(body: tuple[Any, ...], message: str) -> None:
    # A NetIR comes from the application: nothing in it may become code.
    with pytest.raises(ValueError, match=message):
        generate_net_source(_net(*body))


def test_odd_parameter_names_stay_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = "x'): pass\nimport os  #"
    net = _net(
        _disc(literal_params={odd: encode_value(1), "ok": encode_value(2)}), _report((0, "d"))
    )
    with pytest.raises(ValueError, match=r"literal_params.*\(the key\).*not a valid name"):
        generate_net_source(net)  # the site refuses the name
    # With the site's check off, the generator alone still writes it only as a string.
    monkeypatch.setattr(codegen_generate, "validate_netir", lambda netir: None)
    source = generate_net_source(net)
    compile(source, "<net>", "exec")
    assert f"**{{{odd!r}: _L0}}" in source and "ok=_L1" in source
    assert "advice_report((0, v0))" in source


def test_execute_nets_do_not_import_discovery_names(make_federation: Callable[..., str]) -> None:
    with Pipeline(api_version="1.0") as p:
        Shirt(color="red", site="app")
    net = prepare(p, _fed_info(), "app", "fed").net_irs()["app"]
    assert "discover" not in generate_net_source(net)
