"""Benchmarks of the pipeline language and the compiler.

Prints, for a 1,000-operation pipeline: build time, JSON round trip, and ``prepare()``
over 10 sites. Goals: build + round trip ≤ 100 ms; prepare ≤ 1 s.

Run: ``python tools/bench/bench_pipeline.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _goals import Goals  # noqa: E402

from dfm.api import FedInfo, Pipeline, PlaceParam, Yield, allow_module_prefix
from dfm.irgen import prepare

OPS = """
from typing import Any, Literal
from dfm.api import Advise, NodeParam, Operation, PlaceParam

class Step(Operation):
    dfm_class_name: Literal["benchops.Step"] = "benchops.Step"
    __api_name__ = "bench.Step"
    x: Any | NodeParam | PlaceParam | Advise = None
    factor: float | NodeParam | PlaceParam | Advise | None = None
"""


def _ops_module() -> Any:
    root = Path(tempfile.mkdtemp())
    (root / "benchops.py").write_text(textwrap.dedent(OPS))
    sys.path.insert(0, str(root))
    allow_module_prefix("benchops")
    import benchops  # type: ignore[import-not-found]

    return benchops


def build(step: Any, n: int = 1000) -> Pipeline:
    """A pipeline of ``n`` operations: a few chains that join and fan out."""
    with Pipeline(name="bench") as p:
        nodes = [step(x=PlaceParam(place="seed", multiuse=True), factor=1.5)]
        for i in range(1, n):
            source = nodes[i - 1] if i % 10 else nodes[i // 2]
            nodes.append(step(x=source, factor=float(i)))
        for k in range(0, n, 100):
            Yield(value=nodes[k], place=f"out{k}")
    return p


def fed_info(sites: int = 10) -> FedInfo:
    """``sites`` sites offering the step at different costs, all linked."""
    names = [f"site{i}" for i in range(sites)]
    return FedInfo.model_validate(
        {
            "sites": {
                name: {
                    "interface": {
                        "bench.Step": {
                            "operation": "bench.Step",
                            "compute_cost": {"fixed_time": 1 + (i * 7) % 5, "fixed_size": 1000},
                        }
                    },
                    "send_cost": {
                        o: {"fixed_time": 0.5, "bandwidth": 1e6} for o in names if o != name
                    },
                }
                for i, name in enumerate(names)
            }
        }
    )


def timed(fn: Callable[[], Any], repeat: int = 7) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    """Run the benchmarks, print the numbers beside their goals; 1 if a goal is missed."""
    step = _ops_module().Step
    pipeline = build(step)
    text = pipeline.model_dump_json()
    info = fed_info()
    t_build = timed(lambda: build(step))
    t_dump = timed(pipeline.model_dump_json)
    t_load = timed(lambda: Pipeline.model_validate_json(text))
    t_prepare = timed(lambda: prepare(pipeline, info, "site0", "bench"), repeat=3)
    total = t_build + t_dump + t_load
    goals = Goals()
    goals.report("1,000-op pipeline: build + JSON round trip", total, "ms", "<= 100", total <= 100)
    print(f"{'':<60} (build {t_build:.1f}, to JSON {t_dump:.1f}, from JSON {t_load:.1f} ms)")
    ok = t_prepare <= 1000
    goals.report("prepare() of 1,000 ops over 10 sites", t_prepare, "ms", "<= 1000", ok)
    return goals.exit_code()


if __name__ == "__main__":
    sys.exit(main())
