"""Instructions per warm job, counted by valgrind's callgrind: a judge that noise cannot move.

CPU time on a small shared VM moves by up to 2x between consecutive processes, which is
more than the telemetry goals (10 %, 2 %). Callgrind counts the instructions a process
executes in user space, whatever else the machine does. A warm job's count is the
difference between two runs of the same child, one with ``jobs`` more warm jobs than
the other, divided by ``jobs``: start-up, warm-up and exit cancel out.

The collector is frozen (``gc.freeze()``) after the warm-up in both runs, so that a full
collection that happens to fall into one run does not count as the jobs' cost. Threads
that wait with a timeout still make the counts move by about 1-2 % from run to run.
Instructions are not time (a protobuf encoder runs more of them per ns than the
interpreter's dispatch does), so the counts are printed as information, beside the
CPU-time verdicts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHILD = """
import gc
from dfm.api import Pipeline, PlaceParam, Yield
from dfm.session import Session
ops = __import__("{fed}.fed.api.ops", fromlist=["Echo"])
noop = lambda *a: None
with Session("{fed}", "home") as s:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="home"))
    one = s.prepare(p)
    for i in range(50):
        assert s.execute(one, {{"a": i}}, default_callback=noop).wait_until_finished(60)
    gc.collect()
    gc.freeze()
    for i in range({jobs}):
        assert s.execute(one, {{"a": i}}, default_callback=noop).wait_until_finished(60)
"""

_COLLECTED = re.compile(r"Collected : (\d+)")


def available() -> bool:
    """Whether valgrind is on PATH."""
    return shutil.which("valgrind") is not None


def _count(env: dict[str, str], fed: str, jobs: int) -> int:
    with tempfile.TemporaryDirectory(prefix="dfm-bench-cg-") as tmp:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(tmp) / 'out'}",
                sys.executable,
                "-c",
                CHILD.format(fed=fed, jobs=jobs),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind child failed:\n{done.stderr[-3000:]}")
    return int(found[1])


def per_job(variants: dict[str, dict[str, str]], fed: str, jobs: int) -> dict[str, float]:
    """Instructions per warm job of each variant (two callgrind runs each, two at a time).

    ``jobs`` should be a multiple of half the span batch size (256 by default): the
    run with more jobs then exports whole batches more, one request per 256 jobs, as
    a long run does.
    """
    runs = [(name, n) for name in variants for n in (0, jobs)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda run: _count(variants[run[0]], fed, run[1]), runs))
    found = dict(zip(runs, counts, strict=True))
    return {name: (found[name, jobs] - found[name, 0]) / jobs for name in variants}
