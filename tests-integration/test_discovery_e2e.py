"""Discovery end to end: `dfm gen` sites with field advisors, on the local target.

The generated ``discover_<op>`` methods prepare the adapter's arguments like
``call_<op>`` (so advisors see adapter parameter names, constants and site values) and
are awaited for sync adapters too (B9); provider operations are advised through the
provider. Both local modes: sites on threads, and sites in their own processes.
"""

from __future__ import annotations

import importlib
import os
import subprocess
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
)
from dfm.api.discovery import (
    AdvisedLiteral,
    AdvisedOneOf,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    SingleFieldAdvice,
)
from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import load_federation_config_from_string
from dfm.session import JobStatus, Session

CONFIG = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: shopfed}
operations:
  shop.Shirt:
    parameters: {color: {type: string}, size: {type: string}}
    returns: string
  shop.Ship:
    parameters: {item: {type: string}, carrier: {type: string}}
    returns: string
  shop.Wrap:
    parameters: {paper: {type: string}}
    returns: string
sites:
  home:
    interface:
      "#/operations/shop.Shirt":
        adapter: {path: shoplib.Shirts, args: {sizes: [S, M]}}
        args: from-operation
    send_cost: {depot: {fixed_time: 0.1}}
  depot:
    impl: {path: shoplib.DepotSite}
    interface:
      "#/operations/shop.Shirt":
        adapter: {path: shoplib.DepotShirts, args: {sizes: [XS]}}
        args:
          tint: {from-param: color}
          size: {from-param: size}
          unit: {const: cm}
      "#/operations/shop.Ship":
        adapter: shoplib.Ship
        is-async: false
        args:
          item: {from-param: item}
          carrier: {from-param: carrier}
          depot: {from-site: depot_name}
    providers:
      gifts:
        interface:
          "#/operations/shop.Wrap":
            adapter: shoplib.Wrap
            args: from-operation
    send_cost: {home: {fixed_time: 0.1}}
"""

SHOPLIB = """
from dfm.api.discovery import AdvisedError, AdvisedLiteral, AdvisedOneOf
from dfm.runtime import Site, field_advisor


class Shirts:
    def __init__(self, sizes):
        self.sizes = sizes

    @field_advisor("color", order=0)
    def advise_color(self, value, context):
        return AdvisedOneOf(["red", "green"], split_on_advice=True)

    @field_advisor("size", order=1)
    async def advise_size(self, value, context):
        color = context.get("color", context.get("tint"))
        return AdvisedOneOf(self.sizes) if color == "red" else AdvisedLiteral("L")

    async def body(self, color, size):
        return f"{color} {size}"


# The depot's adapter calls the color a tint and takes a constant unit.
class DepotShirts(Shirts):
    def advise_color(self, value, context):  # no longer an advisor
        raise AssertionError("not called")

    @field_advisor("tint", order=0)
    def advise_tint(self, value, context):
        return AdvisedOneOf(["red", "green"], split_on_advice=True)

    @field_advisor("unit", order=5)
    def advise_unit(self, value, context):
        return AdvisedOneOf(["cm", "in"])

    async def body(self, tint, size, unit):
        return f"{tint} {size} {unit}"


class DepotSite(Site):
    depot_name = "north depot"


class Ship:
    @field_advisor("carrier", order=-1)
    def advise_carrier(self, value, context):
        if context.get("depot") != "north depot":
            return AdvisedError("no carrier at " + str(context.get("depot")))
        return AdvisedOneOf(["post", "courier"])

    def body(self, item, carrier, depot):
        return f"{item} by {carrier} from {depot}"


class Wrap:
    @field_advisor("paper")
    async def advise_paper(self, value, context):
        return AdvisedLiteral("gold")

    async def body(self, paper):
        return paper
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Generate the federation, write its adapters, put it on sys.path."""
    root = tmp_path_factory.mktemp("shopfed")
    generate_federation(load_federation_config_from_string(CONFIG), root)
    (root / "shoplib.py").write_text(textwrap.dedent(SHOPLIB))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield importlib.import_module("shopfed.fed.api.shop")
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.split(".")[0] in ("shopfed", "shoplib")]:
        del sys.modules[name]


@pytest.fixture(scope="module", params=["threads", "processes"])
def session(shop: ModuleType, request: pytest.FixtureRequest) -> Iterator[Session]:
    processes = request.param == "processes"
    with Session("shopfed", "home", target="local", processes=processes, job_timeout=30) as s:
        yield s


def _shirts(sizes: list[str]) -> BranchFieldAdvice:
    return BranchFieldAdvice(
        "color",
        [
            ("red", SingleFieldAdvice("size", AdvisedOneOf(sizes))),
            ("green", SingleFieldAdvice("size", AdvisedLiteral("L"))),
        ],
    )


def test_generated_sites_advise_across_sites(session: Session, shop: ModuleType) -> None:
    with Pipeline(mode="discovery") as p:
        shop.Shirt(color=Advise(), size=PlaceParam(place="size"))
        shop.Ship(item="shirt")
        shop.Wrap(paper=Advise(), provider="gifts")
        shop.Shirt(color="red", size="M")
    prepared = session.prepare(p)
    # Round trip: what an application would load from a file.
    prepared = type(prepared).model_validate_json(prepared.model_dump_json())
    tokens: list[tuple[Any, ...]] = []
    job = session.execute(prepared, default_callback=lambda *token: tokens.append(token))
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED
    discovered = {t[0]: t[4] for t in tokens if t[3] == DISCOVERY_PLACE_NAME}
    depot_tint = BranchFieldAdvice(
        "tint",
        [
            ("red", SingleFieldAdvice("size", AdvisedOneOf(["XS"]))),
            ("green", SingleFieldAdvice("size", AdvisedLiteral("L"))),
        ],
    )
    assert discovered == {
        "home": [(NodeId(ident=0), _shirts(["S", "M"])), (NodeId(ident=3), None)],
        "depot": [
            # The constant unit (cm) is good: no node for it.
            (NodeId(ident=0), depot_tint),
            (NodeId(ident=1), SingleFieldAdvice("carrier", AdvisedOneOf(["post", "courier"]))),
            (NodeId(ident=2), SingleFieldAdvice("paper", AdvisedLiteral("gold"))),
            (
                NodeId(ident=3),
                SingleFieldAdvice(
                    "size", "M", ErrorFieldAdvice("Expected one of ['XS'] but got M")
                ),
            ),
        ],
    }
    assert [t[2:] for t in tokens if t[3] == STATUS_PLACE_NAME] == [
        (Frame([0]), STATUS_PLACE_NAME, StopToken()),
        (Frame.stop_frame(), STATUS_PLACE_NAME, StopToken()),
    ]


def test_generated_discover_methods_pass_mypy_strict(shop: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed")
    root = Path(shop.__file__).parents[3]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",  # the hand-written shoplib is not ours to check
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "-p",
            "shopfed.fed.runtime",
        ],
        cwd=root,
        env=dict(os.environ, MYPYPATH=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
