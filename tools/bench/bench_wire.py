"""Benchmarks of the wire: big values between sites, and small values per frame.

Usage: python tools/bench/bench_wire.py [--quick] [--mb MB]

* A 200 MB ``bytes`` result of ``Blob`` on site s1 goes to ``Arrive`` on site s2: the
  time from Blob returning it to Arrive receiving it (noted by the adapters, on the
  monotonic clock every process shares), and the peak RSS of every process (each run
  in a fresh process, thread mode and ``processes=True``).
* A 1 KiB value per frame crossing two sites (Echo on s1, Echo on s2, yielded): sets/s,
  against the numbers before the fast wire (``REFERENCE``, measured on the reference
  machine with the JSON/base64 envelope): the envelope must cost at most 10%.

Prints each number beside its goal; exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _goals import Goals  # noqa: E402
from _localfed import FED, write_federation  # noqa: E402

MB = 1_000_000
# sets/s with a 1 KiB value per frame before the fast wire (commit 4a20fb1), best of 3
# runs of 5,000 sets on the reference machine (see docs/performance.md).
REFERENCE = {
    ("bytes", "threads"): 11_900,
    ("str", "threads"): 12_300,
    ("bytes", "wire_roundtrip"): 6_300,
    ("bytes", "processes"): 4_500,
}
MODES: dict[str, dict[str, Any]] = {
    "threads": {},
    "wire_roundtrip": {"wire_roundtrip": True},
    "processes": {"processes": True},
}

BIG = """
import json, resource, sys
from dfm.api import Pipeline, PlaceParam, Yield
from dfm.session import Session
from {fed}.fed.api.ops import Arrive, Blob, Clock

options, n, repeat = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
got = {{}}


def keep(site, node, frame, place, data):
    got[place] = data


with Session("{fed}", "home", **options) as s:
    with Pipeline() as p:
        Yield(value=Arrive(x=Blob(n=PlaceParam(place="n"), site="s1"), site="s2"))
    big = s.prepare(p)
    with Pipeline() as p:
        Yield(value=Clock(site="s1"), place="s1")
        Yield(value=Clock(site="s2"), place="s2")
    clock = s.prepare(p)
    latencies = []
    for _ in range(repeat):
        job = s.execute(big, {{"n": n}}, default_callback=keep)
        assert job.wait_until_finished(300), "timed out"
        assert job.get_status().name == "FINISHED", job.errors
        assert got["yield"] == n, got["yield"]
        job = s.execute(clock, default_callback=keep)
        assert job.wait_until_finished(60) and job.get_status().name == "FINISHED"
        latencies.append(got["s2"]["arrived"] - got["s1"]["sent"])
    peaks = {{"s1": got["s1"]["peak_rss"], "s2": got["s2"]["peak_rss"]}}
    peaks["application"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"latencies": latencies, "peaks": peaks}}))
"""


def big_transfer(goals: Goals, env: dict[str, str], mode: str, n: int, repeat: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BIG.format(fed=FED), json.dumps(MODES[mode]), str(n), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {mode} transfer failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rate = n / min(result["latencies"]) / MB
    goal = 2000 if mode == "threads" else 500
    name = f"{n // MB} MB bytes result to another site [{mode}]"
    goals.report(name, rate, "MB/s", f">= {goal}", rate >= goal)
    site, peak = max(result["peaks"].items(), key=lambda kv: kv[1])
    ratio = peak / n
    goals.report(f"  peak RSS ({site}) / payload [{mode}]", ratio, "x", "<= 2.5", ratio <= 2.5)
    runs = ", ".join(f"{n / t / MB:,.0f}" for t in result["latencies"])
    peaks = ", ".join(f"{k} {v / MB:,.0f} MB" for k, v in result["peaks"].items())
    print(f"{'':<60} (runs: {runs} MB/s; peaks: {peaks})", flush=True)


def small_values(goals: Goals, kind: str, mode: str, sets: int) -> None:
    from dfm.api import Pipeline, PlaceParam, Yield
    from dfm.session import Session

    ops: Any = __import__(f"{FED}.fed.api.ops", fromlist=["Echo"])
    value: Any = bytes(range(256)) * 4 if kind == "bytes" else "x" * 1024
    with Session(FED, "home", **MODES[mode]) as s:
        with Pipeline() as p:
            Yield(value=ops.Echo(x=ops.Echo(x=PlaceParam(place="a"), site="s1"), site="s2"))
        prepared = s.prepare(p)
        best = 0.0
        for _ in range(3):
            started = time.perf_counter()
            job = s.execute(prepared, [{"a": value}] * sets, default_callback=lambda *a: None)
            assert job.wait_until_finished(300) and job.get_status().name == "FINISHED"
            best = max(best, sets / (time.perf_counter() - started))
    reference = REFERENCE[(kind, mode)]
    least = 0.9 * reference
    name = f"1 KiB {kind} per frame across two sites [{mode}]"
    goals.report(name, best, "sets/s", f">= {least:,.0f}", best >= least)
    print(f"{'':<60} (before the fast wire: {reference:,} sets/s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--mb", type=int, default=200, help="size of the big value in MB")
    args = parser.parse_args()
    goals = Goals()
    with tempfile.TemporaryDirectory(prefix="dfm-bench-wire-") as tmp:
        root = Path(tmp)
        write_federation(root / "pkgs")
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["XDG_CACHE_HOME"] = str(root / "cache")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(root / "pkgs"), *filter(None, [env.get("PYTHONPATH")])]
        )
        os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
        sys.path.insert(0, str(root / "pkgs"))
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
        repeat = 2 if args.quick else 3
        for mode in ("threads", "processes"):
            big_transfer(goals, env, mode, args.mb * MB, repeat)
        sets = 2000 if args.quick else 5000
        for kind, mode in REFERENCE:
            small_values(goals, kind, mode, sets)
    return goals.exit_code()


if __name__ == "__main__":
    sys.exit(main())
