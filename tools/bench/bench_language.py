"""Benchmarks of the pipeline language's blocks on the local target (thread mode).

Usage: python tools/bench/bench_language.py [--quick] [--processes]

Prints each measurement beside its goal and exits non-zero when a goal is missed:

* ForEach of 100,000 elements produced on ``s1`` (a list, then a sync generator), an
  operation per element on ``s2``, a yield each: ≥ 50,000 elements/s;
* the first result of a generator-fed ForEach ≤ 5 ms after the generator produced its
  first element;
* nested ForEach 300 × 300 with a yield each: ≥ 50,000 yields/s;
* an If in a batch of 20,000 parameter sets costs ≤ 10 % over the same pipeline
  without it (medians of interleaved runs);
* a cache hit ≤ 0.5 ms: what a TryFromCache that hits adds to a frame (one site's
  runner, 2,000 frames that hit, against the same frames yielding the value directly;
  CPU time, so that other processes on the machine do not count); the round trip of a
  warm job with a hit is printed beside it.

Uses the three-site federation of ``_localfed.py`` in a temporary directory.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _localfed import FED, write_federation  # noqa: E402

MISSED: list[str] = []


def report(name: str, value: float, unit: str, goal: str, ok: bool) -> None:
    print(f"{name:<58} {value:>10.2f} {unit:<9} goal {goal:<9} {'ok' if ok else 'MISSED'}")
    if not ok:
        MISSED.append(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer elements and runs")
    parser.add_argument("--processes", action="store_true", help="also measure processes=True")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dfm-bench-lang-") as tmp:
        root = Path(tmp)
        write_federation(root / "pkgs")
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")
        sys.path.insert(0, str(root / "pkgs"))
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
        bench({}, args.quick)
        if args.processes:
            bench({"processes": True}, True)
    if MISSED:
        print(f"MISSED: {', '.join(MISSED)}")
        return 1
    return 0


def bench(options: dict[str, Any], quick: bool) -> None:
    from dfm.api import ForEach, GreaterThanOrEqual, If, Pipeline, PlaceParam, TryFromCache, Yield
    from dfm.session import Session

    ops: Any = importlib.import_module(f"{FED}.fed.api.ops")
    s1: Any = importlib.import_module(f"{FED}.fed.runtime.s1")
    tag = "".join(f" [{k}]" for k in options)
    n = 20_000 if quick else 100_000
    runs = 2 if quick else 3

    def check(name: str, value: float, unit: str, goal: str, ok: bool) -> None:
        # The goals are for the default thread mode; other modes are for comparison.
        report(name + tag, value, unit, "-" if options else goal, ok or bool(options))

    with Session(FED, "home", **options) as s:
        seen = [0]
        first: list[float] = []

        def count(*args: Any) -> None:
            if not first and args[3] == "yield":
                first.append(time.perf_counter())
            seen[0] += 1

        def timed(prepared: Any, params: Any, expect: int) -> tuple[float, float]:
            seen[0] = 0
            first.clear()
            started, cpu = time.perf_counter(), time.process_time()
            job = s.execute(prepared, params, default_callback=count)
            assert job.wait_until_finished(600), job.get_status()
            assert job.get_status().name == "FINISHED", job.errors
            assert seen[0] == expect, (seen[0], expect)
            return time.perf_counter() - started, time.process_time() - cpu

        for producer in ("Range", "Count"):
            with Pipeline() as p:
                seq = getattr(ops, producer)(n=PlaceParam(place="n"), site="s1")
                with ForEach(seq=seq) as x:
                    Yield(value=ops.Echo(x=x, site="s2"))
            prepared = s.prepare(p)
            assert s.prepare(p).placement == {"node0": "s1", "node1": "s1", "node2": "s2"}
            best, cpu_best, latencies = 0.0, 0.0, []
            for _ in range(runs):
                s1.FIRST_PRODUCED.clear()
                wall, cpu = timed(prepared, {"n": n}, n + 2)
                if best < n / wall:
                    best, cpu_best = n / wall, cpu / n * 1e6
                if s1.FIRST_PRODUCED:
                    latencies.append((first[0] - s1.FIRST_PRODUCED[0]) * 1000)
            what = "list" if producer == "Range" else "generator"
            check(
                f"ForEach {n:,} elements ({what}) s1 -> op on s2, yield each",
                best,
                "el/s",
                ">= 50000",
                best >= 50_000,
            )
            print(f"{'':<58} (CPU {cpu_best:.1f} µs per element, all threads)")
            if latencies:
                med = statistics.median(latencies)
                check(
                    "first result after the generator's first element", med, "ms", "<= 5", med <= 5
                )

        side = 150 if quick else 300
        with Pipeline() as p:
            outer = ops.Range(n=PlaceParam(place="n", multiuse=True), site="s1")
            with ForEach(seq=outer):
                inner = ops.Range(n=PlaceParam(place="n", multiuse=True), site="s2")
                with ForEach(seq=inner) as j:
                    Yield(value=j)
        nested = s.prepare(p)
        best = max(
            side * side / timed(nested, {"n": side}, side * side + 2)[0] for _ in range(runs)
        )
        check(
            f"nested ForEach {side} x {side}, yield each",
            best,
            "yields/s",
            ">= 50000",
            best >= 50_000,
        )

        sets = 5_000 if quick else 20_000
        with Pipeline() as p:
            Yield(value=ops.Echo(x=PlaceParam(place="a"), site="home"))
        plain = s.prepare(p)
        with Pipeline() as p:
            x = ops.Echo(x=PlaceParam(place="a"), site="home")
            with If(cond=GreaterThanOrEqual(left=x, right=0)):
                Yield(value=x)
        gated = s.prepare(p)
        params = [{"a": i} for i in range(sets)]
        times: dict[str, list[float]] = {"plain": [], "if": []}
        for _ in range(3 if quick else 7):
            times["plain"].append(timed(plain, params, 2 * sets + 1)[0])
            times["if"].append(timed(gated, params, 2 * sets + 1)[0])
        base, with_if = statistics.median(times["plain"]), statistics.median(times["if"])
        extra = (with_if / base - 1) * 100
        check(
            f"If in a {sets:,}-set batch, over the same without it",
            extra,
            "%",
            "<= 10",
            extra <= 10,
        )
        print(f"{'':<58} ({sets / base:,.0f} sets/s without, {sets / with_if:,.0f} with the If)")

        with Pipeline() as p:
            with TryFromCache(key=PlaceParam(place="k")) as cached:
                cached.cache(ops.Echo(x=PlaceParam(place="v"), site="home"))
            Yield(value=cached)
        cache = s.prepare(p)
        assert timed(cache, {"k": "bench", "v": 1}, 3)  # stored: every later job hits
        hits = [timed(cache, {"k": "bench", "v": i}, 3)[0] for i in range(100 if quick else 500)]
        with Pipeline() as p:
            Yield(value=PlaceParam(place="v"))
        bare = s.prepare(p)
        cost = cache_hit_cost(cache, bare, 2_000)
        check("cache hit (added to a frame, CPU)", cost, "ms", "<= 0.5", cost <= 0.5)
        print(f"{'':<58} (warm job with a hit: {statistics.median(hits) * 1000:.2f} ms)")


def cache_hit_cost(cache: Any, bare: Any, frames: int) -> float:
    """Milliseconds of CPU a hit adds to a frame, in one site's runner (no session)."""
    import asyncio

    from dfm.api import Frame
    from dfm.runtime import JobController, Router

    class Drop(Router):
        def route(self, package: Any) -> None:
            pass

    async def run(prepared: Any, params: dict[str, Any]) -> float:
        controllers = [
            JobController(net, job_id="bench", router=Drop()) for net in prepared.net_irs().values()
        ]
        started = time.process_time()
        for c in controllers:
            c.runner.start()
        for i in range(frames):
            for c in controllers:
                c.runner.inject(Frame.start_frame(i), params)
        for c in controllers:
            c.runner.inject(Frame.stop_frame(), {})
        await asyncio.gather(*(c.runner.done for c in controllers))
        return time.process_time() - started

    best = float("inf")
    for _ in range(3):
        hit = asyncio.run(run(cache, {"k": "bench", "v": 0}))
        plain = asyncio.run(run(bare, {"v": 0}))
        best = min(best, (hit - plain) / frames)
    return best * 1000


if __name__ == "__main__":
    sys.exit(main())
