"""Micro-benchmark of the site runtime (dfm.runtime NetRunner + generated net code).

Usage: python tools/bench/bench_runtime.py [-n FRAMES] [--repeat R]

Scenarios (each prints parameter sets per second, best of R):

* ``one-op``: ``Echo(x=PlaceParam("x"))`` + Yield on one site (async adapter), N frames
  injected into one NetRunner; an in-memory router collects the yields (kept as
  TokenPackages, not decoded) — the runtime's own cost per parameter set.
* ``one-op-sync``: the same with a sync adapter (runs in a ``DaemonThreadPool``, as on a
  site).
* ``two-site``: ``Echo`` on site ``s1`` whose result feeds ``Echo`` on ``app`` (the
  homesite), which yields it. Every frame crosses sites through
  ``TokenPackage.to_wire``/``from_wire`` and ``deliver_package`` (what a target that
  serializes does), both runners on one loop, packages handed over by ``call_soon``.
* ``round-trip``: one warm job (controller built, modules cached) with one parameter
  set: construct JobController + start + inject + stop until ``done``; ms per job.
* ``matching``: a runner holding 2,000 and then 16,000 partially filled frames (one
  input each) gets the other input of every frame; the time per token must not grow
  with the frames waiting (goal: the 16,000 case under 3× the 2,000 one per token).
  This goal is checked: the script exits 1 when it is missed.

Needs dfm-api, dfm-irgen, dfm-modgen and dfm-runtime installed. Writes a throwaway
federation package and the net-module cache to a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SITE = """\
from dfm.runtime import Site

API_VERSION = "1.0"


class ThisSite(Site):
    async def call_ops_Echo(self, x):
        return x

    def call_ops_SyncEcho(self, x):
        return x
"""


def make_federation(root: Path) -> str:
    name = "benchfed"
    runtime = root / name / "fed" / "runtime"
    for site in ("app", "s1"):
        (runtime / site).mkdir(parents=True)
        (runtime / site / "__init__.py").write_text(SITE)
    for package in (root / name, root / name / "fed", runtime):
        (package / "__init__.py").write_text("")
    sys.path.insert(0, str(root))
    return name


def nets(fed: str, scenario: str) -> dict[str, Any]:
    from dfm.api import START_PLACE_NAME, STATUS_PLACE_NAME
    from dfm.irgen import (
        AdapterCall,
        FlowValue,
        InPlace,
        NetIR,
        PlaceValue,
        StmtValue,
        StopValue,
        TokenSend,
        Transition,
    )

    def echo(node: int, place: str, is_async: bool = True) -> AdapterCall:
        return AdapterCall(
            stmt_id=f"node{node}",
            node_id=node,
            adapter="ops.Echo" if is_async else "ops.SyncEcho",
            stmt_params={"x": PlaceValue(place=place)},
            is_async=is_async,
        )

    status_send = TokenSend(
        site="app", place=STATUS_PLACE_NAME, kind="control", is_yield=True, data=StopValue()
    )
    yield_send = TokenSend(
        site="app", place="yield", is_yield=True, node_id=0, data=StmtValue(stmt_id="node0")
    )
    done = TokenSend(site="app", place="_done", kind="control", data=FlowValue())
    status = Transition(
        name="_status_", inputs=[InPlace(name="_done", kind="control")], sends=[status_send]
    )
    ext = [
        InPlace(name="start", kind="control", origin="external"),
        InPlace(name="x", kind="data", origin="external"),
    ]
    external = {START_PLACE_NAME: ["start"], "x": ["x"]}
    common = {"homesite": "app", "federation_name": fed, "pipeline_name": "bench"}
    if scenario in ("one-op", "one-op-sync", "round-trip"):
        t0 = Transition(
            name="node0",
            node_id=0,
            inputs=ext,
            body=[echo(0, "x", is_async=scenario != "one-op-sync")],
            sends=[yield_send, done],
        )
        return {"app": NetIR(site="app", transitions=[t0, status], external=external, **common)}
    t_s1 = Transition(
        name="node0",
        node_id=0,
        inputs=ext,
        body=[echo(0, "x")],
        sends=[TokenSend(site="app", place="in", node_id=0, data=StmtValue(stmt_id="node0"))],
    )
    t_app = Transition(
        name="node1",
        node_id=1,
        inputs=[InPlace(name="in", kind="data")],
        body=[echo(1, "in")],
        sends=[
            yield_send.model_copy(update={"node_id": 1, "data": StmtValue(stmt_id="node1")}),
            done,
        ],
    )
    return {
        "s1": NetIR(site="s1", transitions=[t_s1], external=external, **common),
        "app": NetIR(site="app", transitions=[t_app, status], external={}, **common),
    }


POOL: Any = None


async def run_job(irs: dict[str, Any], n: int, wire: bool) -> tuple[float, int]:
    from dfm.api import Frame
    from dfm.runtime import DaemonThreadPool, JobController, Router, TokenPackage

    global POOL
    if POOL is None:
        POOL = DaemonThreadPool(64, "bench-sync")

    loop = asyncio.get_running_loop()
    yields: list[TokenPackage] = []
    controllers: dict[str, JobController] = {}

    class BenchRouter(Router):
        def route(self, package: TokenPackage) -> None:
            if package.is_yield:
                yields.append(package)
            elif wire:
                back = TokenPackage.from_wire(package.to_wire())
                loop.call_soon(controllers[back.target_site].runner.deliver_package, back)
            else:
                loop.call_soon(controllers[package.target_site].runner.deliver_package, package)

    t0 = time.perf_counter()
    router = BenchRouter()
    for site, ir in irs.items():
        controllers[site] = JobController(ir, job_id="bench", router=router, executor=POOL)
    runners = [c.runner for c in controllers.values()]
    for r in runners:
        r.start()
    for i in range(n):
        frame = Frame.start_frame(i)
        for r in runners:
            r.inject(frame, {"x": i})
    for r in runners:
        r.inject(Frame.stop_frame(), {})
    await asyncio.gather(*(r.done for r in runners))
    elapsed = time.perf_counter() - t0
    expected = 2 * n + 1
    if len(yields) != expected:
        raise AssertionError(f"expected {expected} yields, got {len(yields)}")
    return elapsed, len(yields)


MATCHING_GOAL = 3.0


async def matching(irs: dict[str, Any], n: int) -> float:
    """Seconds per token when ``n`` frames wait for their second input."""
    from dfm.api import Frame
    from dfm.runtime import JobController, Router, TokenPackage

    class Drop(Router):
        def route(self, package: TokenPackage) -> None:
            pass

    runner = JobController(irs["app"], job_id="match", router=Drop()).runner
    runner.start()
    t0 = time.perf_counter()
    for i in range(n):
        runner.deliver("x", Frame.start_frame(i), i)
    for i in range(n):
        runner.deliver("start", Frame.start_frame(i), None)
    elapsed = time.perf_counter() - t0
    runner.cancel()
    await asyncio.sleep(0)
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="parameter sets per job")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        fed = make_federation(Path(tmp) / "pkgs")
        for scenario in ("one-op", "one-op-sync", "two-site"):
            irs = nets(fed, scenario)
            n = args.n if scenario != "one-op-sync" else max(1, args.n // 4)
            asyncio.run(run_job(irs, 10, wire=True))  # warm: modules generated and loaded
            best = min(asyncio.run(run_job(irs, n, wire=True))[0] for _ in range(args.repeat))
            print(
                f"{scenario:12s} n={n:6d}  {n / best:10,.0f} sets/s  ({best * 1e6 / n:.1f} µs/set)"
            )
        irs = nets(fed, "round-trip")

        async def round_trips(count: int) -> float:
            await run_job(irs, 1, wire=True)
            t0 = time.perf_counter()
            for _ in range(count):
                await run_job(irs, 1, wire=True)
            return (time.perf_counter() - t0) / count

        per_job = asyncio.run(round_trips(200))
        print(f"{'round-trip':12s} warm job with 1 set: {per_job * 1e3:.3f} ms")

        irs = nets(fed, "one-op")
        asyncio.run(matching(irs, 500))  # warm
        small = min(asyncio.run(matching(irs, 2000)) for _ in range(args.repeat))
        large = min(asyncio.run(matching(irs, 16000)) for _ in range(args.repeat))
        ratio = large / small
        verdict = "ok" if ratio < MATCHING_GOAL else "MISSED"
        print(
            f"{'matching':12s} µs/token with 2,000 / 16,000 frames waiting: {small * 1e6:.2f} / "
            f"{large * 1e6:.2f} (×{ratio:.2f}; goal < ×{MATCHING_GOAL:g}: {verdict})"
        )
        if ratio >= MATCHING_GOAL:
            sys.exit(1)


if __name__ == "__main__":
    main()
