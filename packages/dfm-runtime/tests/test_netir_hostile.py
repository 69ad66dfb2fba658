"""A NetIR is data, never code: hostile names are refused, and none ever runs.

Every string of a NetIR a site receives ends up in the module the site generates. These
tests send names crafted to break out of a comment, a string or an identifier, and
check (1) the site refuses them, naming the field, and (2) even with the check switched
off, the generator writes them only as ``repr()`` or checked identifiers: the module
compiles, runs every transition, and the injected code never runs.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import json
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfm.api import Frame
from dfm.irgen import NetIR
from dfm.runtime import Net
from dfm.runtime.codegen import NetIRRefused, _generate, generate_net_source, validate_netir

CANARY = "DFM_CANARY_HIT"
INJECT = f"__import__('builtins').{CANARY} = True"

# Each placeholder stands for one name of the NetIR below; a test replaces every
# occurrence of one of them (values and keys) by a hostile string.
BASE: dict[str, Any] = {
    "site": "SITE",
    "homesite": "SITE",
    "federation_name": "fedpkg",
    "pipeline_name": "PIPELINE",
    "api_version": "1.0",
    "external": {"__start_place__": ["START"], "EXT": ["XPLACE"]},
    "transitions": [
        {
            "name": "TRANS",
            "node_id": "NODE",
            "inputs": [
                {"name": "START", "kind": "control", "origin": "external"},
                {"name": "XPLACE", "kind": "data", "origin": "external"},
            ],
            "body": [
                {
                    "dfm_class_name": "dfm.irgen.AdapterCall",
                    "stmt_id": "STMT",
                    "node_id": "NODE",
                    "adapter": "ops.ADAPTER",
                    "provider": "PROVIDER",
                    "literal_params": {"LITPARAM": ["json", "LITERAL"]},
                    "stmt_params": {"PARAM": {"kind": "place", "place": "XPLACE"}},
                    "is_async": True,
                },
                {
                    "dfm_class_name": "dfm.irgen.AdapterCall",
                    "stmt_id": "STMT2",
                    "node_id": 2,
                    "adapter": "ops.Sync",
                    "stmt_params": {
                        "v": {"kind": "stmt", "stmt_id": "STMT", "sel": "SEL", "issubs": True}
                    },
                    "is_async": False,
                },
            ],
            "sends": [
                {
                    "site": "SITE",
                    "place": "YPLACE",
                    "is_yield": True,
                    "node_id": "NODE",
                    "data": {"kind": "stmt", "stmt_id": "STMT2", "sel": "SEL"},
                },
                {
                    "site": "OTHER",
                    "place": "OPLACE",
                    "node_id": "NODE",
                    "data": {"kind": "stmt", "stmt_id": "STMT"},
                },
                {"site": "SITE", "place": "DONE", "kind": "control", "data": {"kind": "done"}},
            ],
        },
        {
            "name": "_status_",
            "inputs": [{"name": "DONE", "kind": "control"}],
            "sends": [
                {
                    "site": "SITE",
                    "place": "_dfm_status_",
                    "kind": "control",
                    "is_yield": True,
                    "data": {"kind": "stop"},
                }
            ],
        },
        {
            "name": "FORWARD",
            "inputs": [{"name": "IN2", "kind": "data"}],
            "sends": [
                {
                    "site": "SITE",
                    "place": "YPLACE",
                    "is_yield": True,
                    "data": {"kind": "literal", "value": ["json", "LITERAL"]},
                },
                {
                    "site": "OTHER",
                    "place": "OPLACE2",
                    "data": {"kind": "place", "place": "IN2", "sel": "SEL", "issubs": False},
                },
            ],
        },
    ],
}

PLACEHOLDERS = {
    "SITE": "site",
    "OTHER": "transitions[0].sends[1].site",
    "PIPELINE": "pipeline_name",
    "fedpkg": "federation_name",
    "EXT": "external",
    "START": "transitions[0].inputs[0].name",
    "XPLACE": "transitions[0].inputs[1].name",
    "TRANS": "transitions[0].name",
    "NODE": "transitions[0].node_id",
    "STMT": "transitions[0].body[0].stmt_id",
    "ADAPTER": "transitions[0].body[0].adapter",
    "PROVIDER": "transitions[0].body[0].provider",
    "LITPARAM": "transitions[0].body[0].literal_params",
    "PARAM": "transitions[0].body[0].stmt_params",
    "SEL": "transitions[0].body[1].stmt_params['v'].sel",
    "YPLACE": "transitions[0].sends[0].place",
    "DONE": "transitions[0].sends[2].place",
    "IN2": "transitions[2].inputs[0].name",
    "FORWARD": "transitions[2].name",
    "LITERAL": "",  # data, not a name: always allowed, never code
}

PAYLOADS = [
    f"\n{INJECT}\n",
    f"x\n        {INJECT}\n",
    f"x\r{INJECT}\r",
    f"x\x0c\n{INJECT}",
    f"'); {INJECT}; ('",
    f'"); {INJECT}; ("',
    f'"""\n{INJECT}\n"""',
    f"'''\n{INJECT}\n'''",
    f"\\\n{INJECT}",
    f"x = 1; {INJECT}",
    f"{{{INJECT}}}",
    f"x  # \n{INJECT}",
    f"a.b(); {INJECT}",
    f"\u2028{INJECT}",
    f"\x00{INJECT}",
    "ﬁ",  # NFKC turns it into 'fi' in source
    "class",
    "a" * 300,
]


def substitute(tree: Any, old: str, new: Any) -> Any:
    """Replace ``old`` everywhere: whole strings, dict keys, and the part after 'ops.'."""
    if isinstance(tree, dict):
        return {substitute(k, old, new): substitute(v, old, new) for k, v in tree.items()}
    if isinstance(tree, list):
        return [substitute(v, old, new) for v in tree]
    if tree == old:
        return new
    if isinstance(tree, str) and tree == f"ops.{old}":
        return f"ops.{new}"
    return tree


def hostile_netir(replacements: dict[str, Any]) -> NetIR:
    tree = copy.deepcopy(BASE)
    for old, new in replacements.items():
        tree = substitute(tree, old, new)
    return NetIR.model_validate(tree)


class FakeSite:
    """Answers every adapter call (sync or async) and provider lookup."""

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("call_"):
            return FakeSite()
        if name == "call_ops_Sync":
            return lambda **kw: defaultdict(int, kw)

        async def call(**kw: Any) -> Any:
            return defaultdict(int, kw)

        return call


class FakeCtx:
    this_site = "SITE"

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, *args: Any, **kw: Any) -> None:
        self.sent.append(args)


def run_every_transition(source: str) -> None:
    """Import the module and fire each transition once (the canary must stay down)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<hostile net>", "exec"), namespace)
    cls = namespace["ThisNet"]
    assert issubclass(cls, Net)

    async def fire_all() -> None:
        loop = asyncio.get_running_loop()
        failures: list[BaseException] = []
        net = cls(FakeSite(), FakeCtx(), loop, None, failures.append)
        for spec in cls.TRANSITIONS:
            if spec.fire is not None:
                await getattr(net, spec.fire)(Frame.start_frame(0), [None] * len(spec.inputs))
        assert not failures

    asyncio.run(fire_all())


@pytest.fixture(autouse=True)
def canary() -> Any:
    builtins.__dict__.pop(CANARY, None)
    yield
    assert not builtins.__dict__.pop(CANARY, False), "injected code ran"


def test_the_base_netir_is_valid_and_runs() -> None:
    net = hostile_netir({})
    validate_netir(net)
    run_every_transition(generate_net_source(net))


FREE_TEXT = ("LITERAL", "PIPELINE")  # data shown to people: written through repr() only


@pytest.mark.parametrize("placeholder", [p for p in PLACEHOLDERS if p not in FREE_TEXT])
def test_a_newline_with_code_in_any_name_is_refused(placeholder: str) -> None:
    hostile = f"x\n{INJECT}\n"
    net = hostile_netir({placeholder: hostile})
    with pytest.raises(NetIRRefused) as info:
        validate_netir(net, site=net.site)
    assert PLACEHOLDERS[placeholder] in info.value.field
    assert "refuses the NetIR" in str(info.value) and "DFM_CANARY" in str(info.value)


def test_regression_newline_in_a_transition_name_ran_when_it_fired(monkeypatch) -> None:
    # The attack of the issue: the name was written into a comment of the fire method.
    net = hostile_netir({"TRANS": f"t\n        {INJECT}\n"})
    with pytest.raises(NetIRRefused, match=r"transitions\[0\]\.name"):
        generate_net_source(net)
    monkeypatch.setattr(_generate, "validate_netir", lambda netir: None)
    run_every_transition(generate_net_source(net))  # and with the check off, still inert


def test_free_text_with_code_is_accepted_and_inert() -> None:
    net = hostile_netir({"PIPELINE": f'"""\n{INJECT}\n', "LITERAL": f"\n{INJECT}"})
    validate_netir(net)
    run_every_transition(generate_net_source(net))


def test_regression_stmt_id_and_adapter_in_comments(monkeypatch) -> None:
    monkeypatch.setattr(_generate, "validate_netir", lambda netir: None)
    net = hostile_netir({"STMT": f"s\n            {INJECT}\n", "PIPELINE": f'"""\n{INJECT}'})
    source = generate_net_source(net)
    assert INJECT in source  # it is there, escaped, as data
    run_every_transition(source)


def test_lookalike_identifiers_are_refused() -> None:
    # NFKC maps 'ﬁ' to 'fi' in source: the generated call would be another method.
    with pytest.raises(NetIRRefused, match="provider"):
        validate_netir(hostile_netir({"PROVIDER": "ﬁle"}))
    with pytest.raises(NetIRRefused, match="keyword"):
        validate_netir(hostile_netir({"PROVIDER": "class"}))


def test_netir_for_another_site_or_federation_is_refused() -> None:
    net = hostile_netir({})
    with pytest.raises(NetIRRefused, match="Site 'b' refuses the NetIR: site: .* for site 'SITE'"):
        validate_netir(net, site="b")
    with pytest.raises(NetIRRefused, match="federation_name: .*'fedpkg'; this site belongs"):
        validate_netir(net, site="SITE", federation="otherfed")


def test_structure_is_checked() -> None:
    tree = copy.deepcopy(BASE)
    tree["transitions"][2]["name"] = "TRANS"
    with pytest.raises(NetIRRefused, match=r"transitions\[2\]\.name: 'TRANS' is used twice"):
        validate_netir(NetIR.model_validate(tree))
    tree = copy.deepcopy(BASE)
    tree["transitions"][2]["inputs"][0]["name"] = "DONE"
    with pytest.raises(NetIRRefused, match="already an input of transition '_status_'"):
        validate_netir(NetIR.model_validate(tree))


def test_huge_node_ids_and_odd_literals_are_refused() -> None:
    with pytest.raises(NetIRRefused, match="node_id"):
        validate_netir(hostile_netir({"NODE": 2**80}))
    tree = copy.deepcopy(BASE)
    tree["transitions"][0]["body"][0]["literal_params"]["LITPARAM"] = ["exec", "print(1)"]
    with pytest.raises(NetIRRefused, match="not a tagged value"):
        validate_netir(NetIR.model_validate(tree))


def test_model_construct_cannot_smuggle_a_name_past_the_check() -> None:
    good = hostile_netir({})
    bad_t = good.transitions[0].model_copy(update={"name": f"x\n{INJECT}"})
    smuggled = NetIR.model_construct(
        **{**dict(good), "transitions": [bad_t, *good.transitions[1:]], "fingerprint": "0" * 64}
    )
    with pytest.raises(NetIRRefused, match=r"transitions\[0\]\.name"):
        generate_net_source(smuggled)


names = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=12),
    st.builds(
        lambda a, p, b: a + p + b,
        st.text(max_size=4),
        st.sampled_from(PAYLOADS),
        st.text(max_size=4),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replacements=st.dictionaries(
        st.sampled_from(sorted(PLACEHOLDERS)), names, min_size=1, max_size=4
    ),
    check=st.booleans(),
)
def test_property_no_hostile_name_ever_runs(
    replacements: dict[str, str], check: bool, monkeypatch_module: Any
) -> None:
    builtins.__dict__.pop(CANARY, None)
    try:
        net = hostile_netir(replacements)
    except ValueError:
        return  # the models themselves refused it (e.g. a name used as two things)
    if check:
        try:
            validate_netir(net)
        except NetIRRefused as e:
            assert e.field and repr(e.site) in str(e)
            return
        source = generate_net_source(net)
    else:
        # Second line: with the site's check off, the generator alone must keep it inert.
        with monkeypatch_module.context() as m:
            m.setattr(_generate, "validate_netir", lambda netir: None)
            try:
                source = generate_net_source(net)
            except ValueError:
                return  # the generator refused a name it could not write safely
    try:
        run_every_transition(source)
    except (AssertionError, AttributeError, KeyError, TypeError):
        pass  # the fake site may not fit every shape; what matters is the canary
    assert not builtins.__dict__.get(CANARY), f"injected code ran: {json.dumps(replacements)}"


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as m:
        yield m
