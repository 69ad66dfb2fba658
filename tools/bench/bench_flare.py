"""DFM on a real NVIDIA FLARE POC (server + north + south on 127.0.0.1): start-up, latency, rate.

Usage: python tools/bench/bench_flare.py [--rounds N] [--keep DIR] [--telemetry] [--service-only]

Starts its own POC of the meteo example in a scratch directory (free port, scratch HOME),
measures, stops it, and prints each goal beside its number; exits 1 on a miss. Skips (exit
0) when nvflare is not installed. ``--telemetry`` measures the same with telemetry on
everywhere: the sites forward their spans to the application, which exports them to an
OTLP receiver in this process.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "meteo"

GOALS = {
    "poc start -> ready (s)": ("<=", 20.0),
    "service: submit -> first result (ms, p50)": ("<=", 100.0),
    "service: trivial job round trip (ms, p50)": ("<=", 150.0),
    "service: client->client hop adds (ms, p50)": ("<=", 15.0),
    "service: 1000 sets through a 2-client chain (sets/s)": (">=", 500.0),
    "per-job: submit -> first result (s)": ("<=", 6.2),
    "per-job: submit -> finished (s)": ("<=", 11.0),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pipelines() -> dict[str, Any]:
    """A one-site job, and the same plus a client -> client hop (the readings are kept on
    their site: only the summary crosses)."""
    from meteo.fed.api.data import LoadReadings
    from meteo.fed.api.stats import Merge, Summarize

    from dfm.api import Pipeline, PlaceParam, Yield

    def summary() -> Any:
        readings = LoadReadings(city=PlaceParam(place="city"), days=1, site="north")
        return Summarize(readings=readings, site="north")

    with Pipeline(name="one-site") as local:
        Yield(value=summary()["mean"], place="r")
    with Pipeline(name="hop") as hop:
        north = summary()
        Yield(value=Merge(first=north, second=north, site="south")["mean"], place="r")
    return {"local": local, "hop": hop}


def write_config(work: Path) -> Path:
    """The meteo example's config, with ``stats.Merge`` on ``south`` too (for the hop)."""
    import yaml

    path = work / "meteo.dfm.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sites"]["south"]["interface"]["#/operations/stats.Merge"] = {
        "adapter": "meteo.lib.adapters.Merge",
        "args": "from-operation",
        "compute_cost": {"fixed_time": 0.001, "fixed_size": 200},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")
    return path


def timed_job(session: Any, prepared: Any, params: Any, options: Any = None) -> tuple[float, float]:
    """Seconds from execute to the first callback, and to finished."""
    first: list[float] = []
    started = time.perf_counter()

    def on_token(*_: Any) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    job = session.execute(prepared, params, default_callback=on_token, options=options)
    if not job.wait_until_finished(300):
        raise RuntimeError(f"job {job.job_id} did not finish")
    total = time.perf_counter() - started
    if job.get_status().name != "FINISHED":
        raise RuntimeError(f"job {job.job_id}: {job.get_status().name} {job.errors}")
    return (first[0] if first else total), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", type=Path, default=None, help="keep the scratch dir here")
    parser.add_argument("--telemetry", action="store_true", help="telemetry on at every site")
    parser.add_argument(
        "--service-only", action="store_true", help="skip the per-job measures (faster A/B runs)"
    )
    args = parser.parse_args(argv)
    if importlib.util.find_spec("nvflare") is None:
        print("bench_flare: nvflare is not installed; skipped")
        return 0
    from dfm.session import Session
    from dfm.targets.flare._poc import Poc
    from dfm.targets.flare._workspace import Workspace

    scratch = Path(args.keep or tempfile.mkdtemp(prefix="dfm-bench-flare-"))
    work = scratch / "meteo_example"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("fed", "__pycache__"))
    config = write_config(work)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dfm.api._cli import main; sys.exit(main())",
            "gen",
            str(config),
            "--output",
            str(work),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(work))
    site_environment = None
    receiver: Any = None
    if args.telemetry:
        from dfm.telemetry.testing import OtlpReceiver

        site_environment = {"DFM_TELEMETRY": "1", "DFM_TELEMETRY_FORWARD": "app"}
        receiver = OtlpReceiver(http=True).start()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.http_endpoint
    poc = Poc(Workspace(scratch / "ws"), say=lambda line: None, site_environment=site_environment)
    results: dict[str, float] = {}
    try:
        poc.prepare(config, "app", free_port())
        started = time.perf_counter()
        poc.start(config, "app", timeout=300)
        results["poc start -> ready (s)"] = time.perf_counter() - started
        workspace = str(scratch / "ws")
        with Session(
            "meteo", "app", target="flare", workspace=workspace, telemetry=args.telemetry
        ) as session:
            prepared = {k: session.prepare(p) for k, p in pipelines().items()}
            for _ in range(3):  # warm: code generated and cached on every site
                timed_job(session, prepared["local"], {"city": "oslo"})
                timed_job(session, prepared["hop"], {"city": "oslo"})
            local, hop = [], []
            for _ in range(args.rounds):  # alternating: load on the machine hits both alike
                local.append(timed_job(session, prepared["local"], {"city": "oslo"}))
                hop.append(timed_job(session, prepared["hop"], {"city": "oslo"}))
            results["service: submit -> first result (ms, p50)"] = 1000 * statistics.median(
                f for f, _ in local
            )
            results["service: trivial job round trip (ms, p50)"] = 1000 * statistics.median(
                t for _, t in local
            )
            results["service: client->client hop adds (ms, p50)"] = 1000 * (
                statistics.median(t for _, t in hop) - statistics.median(t for _, t in local)
            )
            sets = [{"city": "oslo"}] * 1000
            _, total = timed_job(session, prepared["hop"], sets)
            results["service: 1000 sets through a 2-client chain (sets/s)"] = 1000 / total
            if not args.service_only:
                first, total = timed_job(
                    session, prepared["hop"], {"city": "oslo"}, options={"mode": "per-job"}
                )
                results["per-job: submit -> first result (s)"] = first
                results["per-job: submit -> finished (s)"] = total
    finally:
        poc.stop()
        if receiver is not None:
            from dfm.runtime import shutdown_telemetry

            shutdown_telemetry(2.0)  # flushed while the receiver still listens
            print(f"telemetry on: the receiver got {len(receiver.spans())} spans")
            receiver.stop()
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    missed = 0
    print(f"{'measure':<56} {'value':>10}  goal")
    for name, (op, goal) in GOALS.items():
        value = results.get(name)
        if value is None:
            print(f"{name:<56} {'-':>10}  {op} {goal:g}  NOT MEASURED")
            missed += 1
            continue
        ok = value <= goal if op == "<=" else value >= goal
        missed += not ok
        print(f"{name:<56} {value:>10.1f}  {op} {goal:g}  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
