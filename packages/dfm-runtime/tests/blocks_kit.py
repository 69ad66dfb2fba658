"""Pipelines with blocks, compiled by dfm.irgen and run by the runtime (no session).

Sites ``app`` (home), ``s1``, ``s2``; every site offers the same operations. The site
module records adapter calls in ``CALLS`` and lets tests hold generators with ``GATE``.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from runtime_testkit import Harness

from dfm.api import STATUS_PLACE_NAME, FedInfo, Frame, Pipeline, allow_module_prefix
from dfm.irgen import PreparedPipeline, prepare

OPS = """
from typing import Any, Literal
from dfm.api import NodeParam, Operation, PlaceParam


def _op(name, api, *fields):
    ns = {"__annotations__": {"dfm_class_name": Literal[f"{__name__}.{name}"]},
          "dfm_class_name": f"{__name__}.{name}", "__api_name__": api}
    for f in fields:
        ns["__annotations__"][f] = Any | NodeParam | PlaceParam
        ns[f] = None
    return type(name, (Operation,), ns)


Echo = _op("Echo", "ops.Echo", "x")
Square = _op("Square", "ops.Square", "x")
Pair = _op("Pair", "ops.Pair", "a", "b")
Gen = _op("Gen", "ops.Gen", "n", "fail_at")
AGen = _op("AGen", "ops.AGen", "n")
Held = _op("Held", "ops.Held", "n")
Slow = _op("Slow", "ops.Slow", "x")
Fail = _op("Fail", "ops.Fail", "x")
"""

SITE = """
import asyncio
import threading
import time

from dfm.runtime import Site

API_VERSION = "1.0"
CALLS = []
GATE = threading.Event()
RUNNING = [0, 0]  # now, most at once


class ThisSite(Site):
    async def call_ops_Echo(self, x=None):
        CALLS.append(("Echo", self.site_name, x))
        return x

    async def call_ops_Square(self, x=None):
        CALLS.append(("Square", self.site_name, x))
        return x * x

    async def call_ops_Pair(self, a=None, b=None):
        return [a, b]

    def call_ops_Gen(self, n=0, fail_at=None):
        def gen():
            for i in range(n):
                if i == fail_at:
                    raise RuntimeError(f"generator broke at {i}")
                yield i
        return gen()

    async def call_ops_AGen(self, n=0):
        async def gen():
            for i in range(n):
                await asyncio.sleep(0)
                yield i
        return gen()

    def call_ops_Held(self, n=0):
        def gen():
            yield 0
            if not GATE.wait(10):
                raise TimeoutError("nobody saw the first element")
            yield from range(1, n)
        return gen()

    async def call_ops_Slow(self, x=None):
        RUNNING[0] += 1
        RUNNING[1] = max(RUNNING)
        await asyncio.sleep(0.001)
        RUNNING[0] -= 1
        return x

    async def call_ops_Fail(self, x=None):
        raise ValueError(f"bad element {x}")
"""

SITES = ("app", "s1", "s2")
ASYNC = {"ops.Gen": False, "ops.Held": False}
OPERATIONS = [
    "ops.Echo",
    "ops.Square",
    "ops.Pair",
    "ops.Gen",
    "ops.AGen",
    "ops.Held",
    "ops.Slow",
    "ops.Fail",
]


def fed_info() -> FedInfo:
    """Every site offers every operation; sends cost 1 s, app computes slowly."""
    times = {"app": 5.0, "s1": 1.0, "s2": 1.0}
    return FedInfo.model_validate(
        {
            "sites": {
                s: {
                    "interface": {
                        op: {
                            "operation": op,
                            "is_async": ASYNC.get(op, True),
                            "compute_cost": {"fixed_time": times[s]},
                        }
                        for op in OPERATIONS
                    },
                    "send_cost": {o: {"fixed_time": 1.0} for o in SITES if o != s},
                }
                for s in SITES
            }
        }
    )


def write_ops(root: Path) -> Any:
    """Write and import the operations module (allowed for polymorphic JSON)."""
    name = f"blockops_{uuid.uuid4().hex[:8]}"
    (root / f"{name}.py").write_text(textwrap.dedent(OPS))
    sys.path.insert(0, str(root))
    allow_module_prefix(name)
    return __import__(name)


def compile_pipeline(pipeline: Pipeline, fed: str) -> PreparedPipeline:
    """The pipeline compiled for the test federation."""
    return prepare(pipeline, fed_info(), "app", fed)


def run(
    prepared: PreparedPipeline, params: list[dict[str, Any]], timeout: float = 20.0, **kw: Any
) -> list[tuple[str, Frame, Any]]:
    """Run a job; every (place, frame, value) the application received, in order."""

    async def go() -> list[Any]:
        harness = Harness(prepared.net_irs(), **kw)
        return await harness.run(params, timeout)

    return [(r.place, r.frame, r.value) for r in asyncio.run(go())]


def multiset(received: list[tuple[str, Frame, Any]]) -> Counter[tuple[str, str, str]]:
    """Received tokens as a multiset of (place, frame, repr(value))."""
    return Counter((place, str(frame), repr(value)) for place, frame, value in received)


def statuses(received: list[tuple[str, Frame, Any]]) -> dict[str, Any]:
    """The status token of every frame (str(frame) → token)."""
    return {str(f): v for p, f, v in received if p == STATUS_PLACE_NAME}


def frames(*levels: int) -> str:
    """``str(Frame([...]))``."""
    return str(Frame(list(levels)))
