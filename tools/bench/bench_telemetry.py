"""What telemetry costs on the local target. Plain script: python tools/bench/bench_telemetry.py

Measures bench_local's warm round trip (one op, median) and its batch of 20,000
parameter sets in one execute (sets/s, best of 3) in fresh processes, rounds interleaved
so that load on the machine hits every variant alike:

* ``baseline``: this tree without its telemetry hooks: a copy of every package's
  sources in which each ``if <telemetry>.ENABLED:`` statement of the runtime, the
  session and the local target is replaced by its ``else`` branch (or nothing), so it
  differs from ``off`` by exactly the hooks (the tree before telemetry existed differs
  by every feature added since, which is no cost of telemetry);
* ``off``: this tree, telemetry off;
* ``on``: this tree, ``DFM_TELEMETRY=1`` exporting over OTLP/HTTP to a real receiver
  (``dfm.telemetry.testing.OtlpReceiver``) running in its own process.

Goals: ``off`` within 2% of ``baseline``; ``on`` within 10% of ``off``, judged by
**CPU time** (``time.process_time`` of the whole process, every thread: the exporter's
too) per warm job and per parameter set. Wall time on a small shared machine is
bimodal and moves with whatever else runs there, by more than the goals; it is printed
as information next to each verdict. The same comparison runs on a federation whose
adapters open spans as generated code does (``Site.telemetry_span`` around each call),
as information.
With ``--instructions`` (valgrind on PATH) the warm job's instructions are counted too
(``_instructions``): deterministic to about 2 %, printed as information.

Each comparison is the **median of per-round ratios**: in every round the variants run
one after the other (in reverse order every other round), and the ratio of two of them
is taken within the round. This machine switches between speed modes that differ by
up to 2x, for seconds to minutes; the runs of one round nearly always share a mode, so
a mode change costs one round's ratio, where it would move a variant's median (the
ratio of medians is printed too, as information).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _instructions  # noqa: E402
from _localfed import FED, write_federation  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SPANNED_SITE = """
from dfm.runtime import Site

API_VERSION = "1.0"
_ECHO = {"dfm.operation": "ops.Echo", "dfm.adapter": "bench.Echo"}
_INC = {"dfm.operation": "ops.Inc", "dfm.adapter": "bench.Inc"}


class ThisSite(Site):
    async def call_ops_Echo(self, x=None):
        with self.telemetry_span("ops.Echo", _ECHO):
            return x

    def call_ops_Inc(self, x=None):
        with self.telemetry_span("ops.Inc", _INC):
            return x + 1
"""

CHILD = """
import json, statistics, sys, time
from dfm.api import Pipeline, PlaceParam, Yield
from dfm.session import Session
ops = __import__("{fed}.fed.api.ops", fromlist=["Echo"])
jobs, sets = {jobs}, {sets}
noop = lambda *a: None
with Session("{fed}", "home") as s:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="home"))
    one = s.prepare(p)
    for i in range(50):  # warm up
        s.execute(one, {{"a": i}}, default_callback=noop).wait_until_finished(10)
    times = []
    cpu = time.process_time()
    for i in range(jobs):
        started = time.perf_counter()
        job = s.execute(one, {{"a": i}}, default_callback=noop)
        assert job.wait_until_finished(10)
        times.append(time.perf_counter() - started)
    round_trip = statistics.median(times[jobs // 10:]) * 1000 if jobs else 0.0
    cpu_job = (time.process_time() - cpu) / jobs * 1e6 if jobs else 0.0
    best = 0.0
    cpu = time.process_time()
    for _ in range(3 if sets else 0):
        started = time.perf_counter()
        job = s.execute(one, [{{"a": i}} for i in range(sets)], default_callback=noop)
        assert job.wait_until_finished(300) and job.get_status().name == "FINISHED"
        best = max(best, sets / (time.perf_counter() - started))
    cpu_set = (time.process_time() - cpu) / (3 * sets) * 1e6 if sets else 0.0
try:
    from dfm.runtime import telemetry
    on = telemetry.ENABLED
except ImportError:  # dfm-runtime without its telemetry facade
    on = False
print(json.dumps({{"round_trip_ms": round_trip, "sets_per_s": best, "on": on,
                  "cpu_us_job": cpu_job, "cpu_us_set": cpu_set}}))
"""

RECEIVER = """
import sys, time
from dfm.telemetry.testing import OtlpReceiver
r = OtlpReceiver().start()
print(r.http_port, flush=True)
sys.stdin.read()  # until the parent closes our stdin
spans = r.spans()
print(len(spans), len(r.points()), flush=True)
"""


def report(name: str, value: float, unit: str, goal: str, ok: bool | None) -> None:
    verdict = "-" if ok is None else "ok" if ok else "MISSED"
    print(f"{name:<58} {value:>9.2f} {unit:<7} goal {goal:<8} {verdict}")


HOOK_MODULES = ("_telemetry", "runtime_telemetry", "telemetry")
"""The names the runtime, session and targets import the telemetry facade under."""
HOOKED_PACKAGES = ("dfm-runtime", "dfm-session", "dfm-target-local")


class _StripHooks(ast.NodeTransformer):
    """``if <facade>.ENABLED: ... [else: ...]`` becomes its else branch (or ``pass``)."""

    def __init__(self) -> None:
        self.stripped = 0

    def visit_If(self, node: ast.If) -> Any:  # noqa: N802 (ast's naming)
        self.generic_visit(node)
        test = node.test
        if (
            isinstance(test, ast.Attribute)
            and test.attr == "ENABLED"
            and isinstance(test.value, ast.Name)
            and test.value.id in HOOK_MODULES
        ):
            self.stripped += 1
            return node.orelse or ast.Pass()
        return node


def hookless_tree(work: Path) -> tuple[Path, int]:
    """A copy of every package's sources without the telemetry hooks; how many went."""
    target = work / "baseline" / "packages"
    stripped = 0
    for src in sorted((ROOT / "packages").glob("*/src")):
        copy = target / src.parent.name / "src"
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
        if src.parent.name not in HOOKED_PACKAGES:
            continue
        for module in copy.rglob("*.py"):
            if module.name.startswith("_telemetry"):
                continue  # the facade itself: not a hook
            text = module.read_text()
            if ".ENABLED" not in text:
                continue
            strip = _StripHooks()
            tree = strip.visit(ast.parse(text))
            if strip.stripped:
                module.write_text(ast.unparse(ast.fix_missing_locations(tree)))
                stripped += strip.stripped
    return target.parent, stripped


def pythonpath(tree: Path | None, fed_root: Path) -> str:
    paths = [str(fed_root)]
    if tree is not None:  # the baseline's packages shadow the installed (editable) ones
        paths += [str(p) for p in sorted((tree / "packages").glob("*/src"))]
    return os.pathsep.join(paths)


def run_child(env: dict[str, str], jobs: int, sets: int) -> dict[str, Any]:
    """Round trips and the batch in separate processes: the spans of a thousand round
    trips are still being exported when they end, which is no cost of the batch."""
    result: dict[str, Any] = {}
    for j, n in ((jobs, 0), (0, sets)):
        code = CHILD.format(fed=FED, jobs=j, sets=n)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"benchmark child failed:\n{done.stderr[-3000:]}")
        part = json.loads(done.stdout.strip().splitlines()[-1])
        keys = ("round_trip_ms", "cpu_us_job") if j else ("sets_per_s", "cpu_us_set")
        result.update({k: part[k] for k in keys}, on=part["on"])
    return result


KEYS = ("round_trip_ms", "sets_per_s", "cpu_us_job", "cpu_us_set")


def compare(
    label: str, variants: dict[str, dict[str, str]], rounds: int, jobs: int, sets: int
) -> dict[str, list[dict[str, Any]]]:
    """Every variant's results, round by round (the variants' order reversed every
    other round, so that none always runs first or last)."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    order = list(variants)
    for i in range(rounds):
        for name in order if i % 2 == 0 else order[::-1]:
            results[name].append(run_child(variants[name], jobs, sets))
    for name, runs in results.items():
        expect_on = name == "on"
        assert all(r["on"] is expect_on for r in runs), (name, runs)
        median = {key: statistics.median(r[key] for r in runs) for key in KEYS}
        print(
            f"  {label} {name:<8} round trip {median['round_trip_ms']:.3f} ms, "
            f"{median['sets_per_s']:,.0f} sets/s; CPU {median['cpu_us_job']:.0f} "
            f"us/job, {median['cpu_us_set']:.1f} us/set  (runs: "
            + ", ".join(
                f"{r['round_trip_ms']:.3f}/{r['sets_per_s']:.0f}/{r['cpu_us_job']:.0f}"
                for r in runs
            )
            + ")"
        )
    return results


def more(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    """How much more ``b`` costs than ``a`` by ``key``, in % (a rate: how much slower)."""
    if key == "sets_per_s":
        return (a[key] / b[key] - 1) * 100
    return (b[key] / a[key] - 1) * 100


def paired(reference: list[dict[str, Any]], runs: list[dict[str, Any]], key: str) -> float:
    """The median over rounds of how much more ``runs`` cost than ``reference``, in %."""
    return statistics.median(more(a, b, key) for a, b in zip(reference, runs, strict=True))


def of_medians(reference: list[dict[str, Any]], runs: list[dict[str, Any]], key: str) -> float:
    """How much more the median of ``runs`` costs than that of ``reference``, in %."""
    return more(
        {key: statistics.median(r[key] for r in reference)},
        {key: statistics.median(r[key] for r in runs)},
        key,
    )


def verdicts(label: str, results: dict[str, list[dict[str, Any]]], sets: int, gated: bool) -> bool:
    """Print the comparisons (CPU judged, wall as information); whether a goal was missed."""
    failed = False
    pairs = [("on", "off", "telemetry on vs off", 10.0)]
    if "baseline" in results:
        pairs.append(("off", "baseline", "telemetry off vs baseline", 2.0))
    for name, reference, what, goal in pairs:
        ref, runs = results[reference], results[name]
        job, per_set = paired(ref, runs, "cpu_us_job"), paired(ref, runs, "cpu_us_set")
        ok_job = job <= goal if gated else None
        ok_set = per_set <= goal if gated else None
        report(f"{label}: {what}, CPU per warm job", job, "% more", f"<= {goal:g}", ok_job)
        report(
            f"{label}: {what}, CPU per set ({sets:,})", per_set, "% more", f"<= {goal:g}", ok_set
        )
        print(
            f"    (ratio of medians: CPU per job {of_medians(ref, runs, 'cpu_us_job'):+.1f} %, "
            f"per set {of_medians(ref, runs, 'cpu_us_set'):+.1f} %; per round, CPU per job: "
            + ", ".join(f"{more(a, b, 'cpu_us_job'):+.1f}" for a, b in zip(ref, runs, strict=True))
            + ")"
        )
        trip, rate = paired(ref, runs, "round_trip_ms"), paired(ref, runs, "sets_per_s")
        report(f"{label}: {what}, warm round trip (wall)", trip, "% slower", "-", None)
        report(f"{label}: {what}, {sets:,} sets (wall)", rate, "% slower", "-", None)
        failed |= ok_job is False or ok_set is False
    return failed


def instructions(variants: dict[str, dict[str, str]]) -> None:
    """Instructions per warm job of each variant and their ratios (information)."""
    if not _instructions.available():
        print("instructions: valgrind not found, not counted")
        return
    # Batches by size only (512 spans: 256 jobs), not by a timer that valgrind slows.
    steady = {"PYTHONHASHSEED": "0", "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    counts = _instructions.per_job(
        {name: {**env, **steady} for name, env in variants.items()}, FED, 512
    )
    print(
        "  instructions per warm job (callgrind, collector frozen): "
        + ", ".join(f"{name} {n:,.0f}" for name, n in counts.items())
    )
    for name, reference, what in (
        ("on", "off", "telemetry on vs off"),
        ("off", "baseline", "telemetry off vs baseline"),
    ):
        more = (counts[name] / counts[reference] - 1) * 100
        report(f"instructions per warm job: {what}", more, "% more", "-", None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer and smaller runs")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per warm job with valgrind (a few minutes more)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    jobs, sets = (300, 5000) if args.quick else (1000, 20000)
    failed = False
    with tempfile.TemporaryDirectory(prefix="dfm-bench-tel-") as tmp:
        work = Path(tmp)
        plain, spanned = work / "plain", work / "spanned"
        write_federation(plain)
        write_federation(spanned)
        for site in ("home", "s1", "s2"):
            (spanned / FED / "fed" / "runtime" / f"{site}.py").write_text(SPANNED_SITE)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DFM_TELEMETRY"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["XDG_CACHE_HOME"] = str(work / "cache")
        baseline, hooks = hookless_tree(work)
        trees = [*sys.path[1:], str(plain), str(spanned)]
        trees.append(str(baseline / "packages"))
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", *trees],
            capture_output=True,
            timeout=900,
        )
        receiver = subprocess.Popen(
            [sys.executable, "-c", RECEIVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert receiver.stdout is not None and receiver.stdin is not None
        port = int(receiver.stdout.readline())
        on = {
            "DFM_TELEMETRY": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        }
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
        print(f"baseline: {baseline} ({hooks} telemetry hooks stripped)")
        if not hooks:
            print("MISSED: no telemetry hook found to strip for the baseline")
            failed = True
        for label, fed_root, gated in (
            ("bench_local", plain, True),
            ("spanned", spanned, False),
        ):
            variants = {
                "off": {**env, "PYTHONPATH": pythonpath(None, fed_root)},
                "on": {**env, **on, "PYTHONPATH": pythonpath(None, fed_root)},
            }
            if gated:
                variants = {
                    "baseline": {**env, "PYTHONPATH": pythonpath(baseline, fed_root)},
                    **variants,
                }
            results = compare(label, variants, rounds, jobs, sets)
            failed |= verdicts(label, results, sets, gated)
            if gated and args.instructions:
                instructions(variants)
        receiver.stdin.close()
        counts = receiver.stdout.readline().split()
        receiver.wait(10)
        print(f"receiver got {counts[0]} spans and {counts[1]} metric points")
        if not int(counts[0]):
            print("MISSED: telemetry on exported nothing")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
