"""Discovery on the local target (threads and processes): two sites, branching advisors."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dfm.api import (
    DISCOVERY_PLACE_NAME,
    STATUS_PLACE_NAME,
    Advise,
    Frame,
    NodeId,
    Pipeline,
    PlaceParam,
    StopToken,
    Yield,
)
from dfm.api.discovery import (
    AdvisedError,
    AdvisedLiteral,
    AdvisedOneOf,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    PartialFieldAdvice,
    SingleFieldAdvice,
)
from dfm.irgen import PreparedPipeline
from dfm.session import JobStatus, Session

FED = "discolocalfed"
STOP = Frame.stop_frame()

OPS = """
from typing import Any, Literal
from dfm.api import Advise, NodeParam, Operation, PlaceParam

P = Any | NodeParam | PlaceParam | Advise


class Shirt(Operation):
    dfm_class_name: Literal["{fed}.fed.api.shop.Shirt"] = "{fed}.fed.api.shop.Shirt"
    __api_name__ = "shop.Shirt"
    color: P = None
    size: P = None


class Stock(Operation):
    dfm_class_name: Literal["{fed}.fed.api.shop.Stock"] = "{fed}.fed.api.shop.Stock"
    __api_name__ = "shop.Stock"
    item: P = None
    region: P = None
    warehouse: P = None
"""

# What `dfm gen` writes for a site, by hand: call_ and discover_ methods per operation.
SITE = """
import asyncio

from dfm.api.discovery import AdvisedError, AdvisedLiteral, AdvisedOneOf
from dfm.runtime import Site, build_advice, field_advisor

API_VERSION = "1.0"
SIZES = {sizes!r}


class Shirts:
    @field_advisor("color", order=0)
    async def advise_color(self, value, context):
        await asyncio.sleep(0)
        return AdvisedOneOf(["red", "green"], split_on_advice=True)

    @field_advisor("size", order=1)
    def advise_size(self, value, context):  # sync: runs off the site's loop
        if context.get("color") == "red":
            return AdvisedOneOf(SIZES)
        if not SIZES:
            raise LookupError("this site sells no green shirts")
        return AdvisedLiteral("L")

    async def body(self, color, size):
        return f"{{color}} {{size}}"


class Stock:
    @field_advisor("region", order=0)
    def advise_region(self, value, context):
        return AdvisedOneOf(["eu", "us"], split_on_advice=True)

    @field_advisor("warehouse", order=-1)
    def advise_warehouse(self, value, context):
        if context.get("region") == "us":
            return AdvisedError("no warehouse in the us")
        return AdvisedOneOf(["north", "south"], break_on_advice=True)

    def body(self, item, region, warehouse):  # a sync adapter
        return 1


class ThisSite(Site):
    def __init__(self, dfm_context, **kwargs):
        super().__init__(dfm_context, **kwargs)
        self.adapter_shop_Shirt = Shirts()
        self.adapter_shop_Stock = Stock()

    async def call_shop_Shirt(self, **kwargs):
        return await self.adapter_shop_Shirt.body(**kwargs)

    async def discover_shop_Shirt(self, **kwargs):
        return await build_advice(self.adapter_shop_Shirt, **kwargs)

    def call_shop_Stock(self, **kwargs):
        return self.adapter_shop_Stock.body(**kwargs)

    async def discover_shop_Stock(self, **kwargs):
        return await build_advice(self.adapter_shop_Stock, **kwargs)
"""


def _write_federation(root: Path) -> None:
    base = root / FED
    for d in (base, base / "fed", base / "fed" / "api", base / "fed" / "runtime"):
        d.mkdir(parents=True, exist_ok=True)
        (d / "__init__.py").write_text("")
    (base / "fed" / "api" / "shop.py").write_text(textwrap.dedent(OPS).replace("{fed}", FED))
    runtime = base / "fed" / "runtime"
    (runtime / "home.py").write_text(textwrap.dedent(SITE).format(sizes=["S", "M"]))
    (runtime / "s1.py").write_text(textwrap.dedent(SITE).format(sizes=[]))
    op = {"compute_cost": {"fixed_time": 1.0}}
    sites = {
        "home": {
            "interface": {"shop.Shirt": {"operation": "shop.Shirt", **op}},
            "send_cost": {"s1": {"fixed_time": 0.1}},
        },
        "s1": {
            "interface": {
                "shop.Shirt": {"operation": "shop.Shirt", **op},
                "shop.Stock": {"operation": "shop.Stock", "is_async": False, **op},
            },
            "send_cost": {"home": {"fixed_time": 0.1}},
        },
    }
    (runtime / "fed_info.json").write_text(json.dumps({"sites": sites}))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The federation's operations (the package is on sys.path for the site processes)."""
    root = tmp_path_factory.mktemp("discofed")
    _write_federation(root)
    sys.path.insert(0, str(root))
    yield importlib.import_module(f"{FED}.fed.api.shop")
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.split(".")[0] == FED]:
        del sys.modules[name]


@pytest.fixture(scope="module", params=["threads", "processes"])
def session(shop: ModuleType, request: pytest.FixtureRequest) -> Iterator[Session]:
    """A local session with every site on a thread, then with every site in a process."""
    processes = request.param == "processes"
    with Session(FED, "home", target="local", processes=processes, job_timeout=30) as s:
        yield s


def _shirts(sizes: list[str], green: Any) -> BranchFieldAdvice:
    return BranchFieldAdvice(
        "color",
        [("red", SingleFieldAdvice("size", AdvisedOneOf(sizes))), ("green", green)],
    )


HOME_SHIRTS = _shirts(["S", "M"], SingleFieldAdvice("size", AdvisedLiteral("L")))
S1_SHIRTS = _shirts(
    [],
    ErrorFieldAdvice(
        "Shirts.advise_size (advisor of 'size') failed: LookupError: this site sells no green "
        "shirts"
    ),
)
STOCK = BranchFieldAdvice(
    "region",
    [
        (
            "eu",
            SingleFieldAdvice(
                "warehouse",
                AdvisedOneOf(["north", "south"], break_on_advice=True),
                PartialFieldAdvice(),
            ),
        ),
        (
            "us",
            SingleFieldAdvice(
                "warehouse",
                AdvisedError("no warehouse in the us"),
                ErrorFieldAdvice("no warehouse in the us"),
            ),
        ),
    ],
)


def _pipeline(shop: ModuleType) -> Pipeline:
    with Pipeline(name="discover shop", mode="discovery") as p:
        shirt = shop.Shirt(color=Advise(), size=Advise())
        shop.Shirt(color="red", size="XL", site="home")
        shop.Stock(item=shirt, region=PlaceParam(place="region"))
        Yield(value=shirt)  # yields do not run in discovery
    return p


def _run(session: Session, prepared: PreparedPipeline) -> list[tuple[Any, ...]]:
    tokens: list[tuple[Any, ...]] = []
    job = session.execute(
        prepared,
        default_callback=lambda site, node, frame, place, data: tokens.append(
            (site, node, frame, place, data)
        ),
    )
    assert job.wait_until_finished(30)
    assert job.get_status() is JobStatus.FINISHED and job.errors == []
    return tokens


def test_two_sites_yield_their_advice_then_the_job_finishes(
    session: Session, shop: ModuleType
) -> None:
    prepared = session.prepare(_pipeline(shop))
    assert prepared.get_participating_sites() == ["home", "s1"]
    tokens = _run(session, prepared)
    discovered = sorted((t for t in tokens if t[3] == DISCOVERY_PLACE_NAME), key=lambda t: t[0])
    assert discovered == [
        (
            "home",
            None,
            Frame([0]),
            DISCOVERY_PLACE_NAME,
            [
                (NodeId(ident=0), HOME_SHIRTS),
                (
                    NodeId(ident=1),
                    SingleFieldAdvice(
                        "size", "XL", ErrorFieldAdvice("Expected one of ['S', 'M'] but got XL")
                    ),
                ),
            ],
        ),
        (
            "s1",
            None,
            Frame([0]),
            DISCOVERY_PLACE_NAME,
            [(NodeId(ident=0), S1_SHIRTS), (NodeId(ident=2), STOCK)],
        ),
    ]
    # The status comes last, once both sites reported: per frame, then the stop frame.
    assert tokens[2:] == [
        ("home", None, Frame([0]), STATUS_PLACE_NAME, StopToken()),
        ("home", None, STOP, STATUS_PLACE_NAME, StopToken()),
    ]
    advice = dict(discovered[0][4])[NodeId(ident=0)]
    assert list(advice) == ["red", "green"] and list(advice.select("red")) == ["S", "M"]
    s1 = dict(discovered[1][4])
    assert list(s1[NodeId(ident=0)]) == []  # red: no sizes; green: an error
    assert s1[NodeId(ident=0)].collect_error_messages() == [S1_SHIRTS.branches[1][1].msg]  # type: ignore[union-attr]


def test_the_pipeline_and_the_prepared_pipeline_round_trip_through_json(
    session: Session, shop: ModuleType
) -> None:
    pipeline = Pipeline.model_validate_json(_pipeline(shop).model_dump_json())
    prepared = PreparedPipeline.model_validate_json(session.prepare(pipeline).model_dump_json())
    discovered = {t[0]: t[4] for t in _run(session, prepared) if t[3] == DISCOVERY_PLACE_NAME}
    assert discovered["s1"] == [(NodeId(ident=0), S1_SHIRTS), (NodeId(ident=2), STOCK)]


def test_place_param_values_are_refused(session: Session, shop: ModuleType) -> None:
    prepared = session.prepare(_pipeline(shop))
    with pytest.raises(ValueError, match="a discovery pipeline takes no parameters"):
        session.execute(prepared, {"region": "eu"})


def test_restricted_to_the_homesite(session: Session, shop: ModuleType) -> None:
    with Pipeline(mode="discovery") as p:
        shop.Shirt(color="green")
    tokens = _run(session, session.prepare(p, restrict_to_sites="homesite"))
    assert tokens == [
        (
            "home",
            None,
            Frame([0]),
            DISCOVERY_PLACE_NAME,
            [(NodeId(ident=0), SingleFieldAdvice("size", AdvisedLiteral("L")))],
        ),
        ("home", None, Frame([0]), STATUS_PLACE_NAME, StopToken()),
        ("home", None, STOP, STATUS_PLACE_NAME, StopToken()),
    ]
