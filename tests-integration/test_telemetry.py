"""Telemetry end to end: the meteo federation (3 sites) exporting real OTLP to a receiver.

Each run is a fresh application process configured by environment variables only
(``DFM_TELEMETRY=1`` and ``OTEL_*``), as a user would run it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.telemetry.testing import OtlpReceiver, ReceivedSpan

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "meteo"
PLACEMENT = {
    "data.LoadReadings": {"north", "south"},
    "stats.Summarize": {"north", "south"},
    "stats.Merge": {"app"},
    "report.Format": {"app"},
}
DRIVER = textwrap.dedent(
    """
    import sys, time
    work, mode = sys.argv[1], sys.argv[2]
    sys.path.insert(0, work)
    import importlib.util
    spec = importlib.util.spec_from_file_location("meteo_app", work + "/app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    from dfm.session import Session
    cities = [
        {"north_city": "oslo", "south_city": "seville"},
        {"north_city": "tromso", "south_city": "naples"},
        {"north_city": "bergen", "south_city": "atlantis"},  # fails on south
    ]
    with Session("meteo", "app", processes=mode == "processes") as session:
        prepared = session.prepare(app.build_pipeline())
        started = time.monotonic()
        job = session.execute(prepared, cities, default_callback=lambda *a: None)
        assert job.wait_until_finished(120)
        print("JOB", job.get_status().name, job.job_id, time.monotonic() - started)
    print("DONE", time.time(), flush=True)
    """
)


@pytest.fixture(scope="module")
def meteo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The meteo example with its federation package generated, in a temp folder."""
    work = tmp_path_factory.mktemp("meteo") / "meteo_example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("fed", "__pycache__"))
    subprocess.run(
        [sys.executable, "-c", "import sys; from dfm.api._cli import main; sys.exit(main())"]
        + ["gen", "meteo.dfm.yaml", "--output", "."],
        cwd=work,
        check=True,
        timeout=120,
        capture_output=True,
    )
    (work / "driver.py").write_text(DRIVER)
    return work


def run_app(work: Path, mode: str, **env: str) -> tuple[str, float, str]:
    """Run the driver; returns (job status, seconds from its end to the process exit, stdout)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DFM_TELEMETRY"))}
    full.update(env)
    done = subprocess.run(
        [sys.executable, str(work / "driver.py"), str(work), mode],
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
    )
    ended = time.time()
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    status = lines["JOB"].split()[0]
    return status, ended - float(lines["DONE"]), done.stderr


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(http=True, grpc=True) as r:
        yield r


def env_for(receiver: OtlpReceiver, protocol: str, **extra: str) -> dict[str, str]:
    grpc = protocol == "grpc"
    return {
        "DFM_TELEMETRY": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint if grpc else receiver.http_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_SERVICE_NAME": "meteo-app",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        **extra,
    }


def job_spans(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    def complete(spans: list[ReceivedSpan]) -> bool:
        names = Counter(s.name for s in spans)
        return names["dfm.job"] == 1 and names["dfm.site.run"] == 3 and len(spans) >= 20

    spans = receiver.wait_for_spans(complete, 30)
    return [s for s in spans if s.name != "dfm.prepare"]


def three_runs_and_the_job(spans: list[ReceivedSpan]) -> bool:
    """Whether a job's span and its three site runs arrived."""
    return sum(s.name == "dfm.site.run" for s in spans) == 3 and any(
        s.name == "dfm.job" for s in spans
    )


def check_span_tree(spans: list[ReceivedSpan]) -> None:
    """One trace; job → site run → adapter call; the failing call has ERROR status."""
    assert len({s.trace_id for s in spans}) == 1, Counter(s.trace_id for s in spans)
    (job,) = [s for s in spans if s.name == "dfm.job"]
    assert job.parent_span_id == ""
    assert job.attributes["dfm.job.status"] == "FAILED" and job.status_code == 2
    runs = {s.attributes["dfm.site"]: s for s in spans if s.name == "dfm.site.run"}
    assert sorted(runs) == ["app", "north", "south"]
    assert all(r.parent_span_id == job.span_id for r in runs.values())
    assert all(r.attributes["dfm.job.id"] == job.attributes["dfm.job.id"] for r in runs.values())
    calls = [s for s in spans if "dfm.operation" in s.attributes]
    # north: 3 loads, 3 summaries; south: 3 loads (one fails), 2 summaries; app: 2 + 2
    assert len(calls) == 15
    for call in calls:
        site = call.attributes["dfm.site"]
        assert site in PLACEMENT[call.name], (call.name, site)
        assert call.parent_span_id == runs[site].span_id
        assert call.attributes["dfm.job.id"] == job.attributes["dfm.job.id"]
    failed = [c for c in calls if c.status_code == 2]
    assert [(c.name, c.attributes["dfm.site"], c.attributes["dfm.frame"]) for c in failed] == [
        ("data.LoadReadings", "south", "[2]")
    ]
    assert failed[0].events == ("exception",)
    assert "atlantis" in failed[0].status_message
    assert {c.attributes["dfm.outcome"] for c in calls if c not in failed} == {"ok"}


def metric(receiver: OtlpReceiver, name: str) -> dict[tuple[tuple[str, str], ...], Any]:
    return {key: point for key, point in receiver.latest(name).items()}


def check_metrics(receiver: OtlpReceiver) -> None:
    def arrived(r: OtlpReceiver) -> bool:
        frames = r.latest("dfm.frames")
        durations = sum(p.count for p in r.latest("dfm.adapter.duration").values())
        return len(frames) == 2 and durations == 15 and bool(r.latest("dfm.jobs"))

    assert receiver.wait_for(arrived, 30), sorted({p.name for p in receiver.points()})
    jobs = {dict(k)["dfm.job.status"]: p.value for k, p in metric(receiver, "dfm.jobs").items()}
    assert jobs == {"FAILED": 1}
    frames = {dict(k)["dfm.outcome"]: p.value for k, p in metric(receiver, "dfm.frames").items()}
    assert frames == {"ok": 2, "error": 1}
    calls = Counter()
    for key, point in metric(receiver, "dfm.adapter.duration").items():
        attributes = dict(key)
        calls[attributes["dfm.operation"], attributes["dfm.site"], attributes["dfm.outcome"]] += (
            point.count
        )
    assert calls[("data.LoadReadings", "south", "error")] == 1
    assert calls[("data.LoadReadings", "south", "ok")] == 2
    assert calls[("data.LoadReadings", "north", "ok")] == 3
    errors = {
        tuple(sorted(dict(k).items())): p.value for k, p in metric(receiver, "dfm.errors").items()
    }
    assert errors == {
        (
            ("dfm.operation", "data.LoadReadings"),
            ("dfm.site", "south"),
            ("error.type", "ValueError"),
        ): 1
    }
    sent = {
        (dict(k)["dfm.site"], dict(k)["dfm.peer"]): p.value
        for k, p in metric(receiver, "dfm.tokens.sent").items()
    }
    received = {
        (dict(k)["dfm.site"], dict(k)["dfm.peer"]): p.value
        for k, p in metric(receiver, "dfm.tokens.received").items()
    }
    for data_site in ("north", "south"):
        assert sent[(data_site, "app")] == received[("app", data_site)] > 0
        assert sent[(data_site, "application")] == received[("application", data_site)] == 3
    assert not any("dfm.job.id" in p.attributes for p in receiver.points())


@pytest.mark.parametrize(
    ("mode", "protocol"),
    [
        ("threads", "http/protobuf"),
        ("processes", "http/protobuf"),
        ("threads", "grpc"),
        ("processes", "grpc"),
    ],
)
def test_one_trace_per_job_across_three_sites(
    meteo: Path, receiver: OtlpReceiver, mode: str, protocol: str
) -> None:
    status, _, _ = run_app(meteo, mode, **env_for(receiver, protocol))
    assert status == "FAILED"
    spans = job_spans(receiver)
    check_span_tree(spans)
    resources = {s.resource.get("service.name") for s in spans}
    assert resources == {"meteo-app"}
    if mode == "processes":  # each site process says which site it is
        runs = [s for s in spans if s.name == "dfm.site.run"]
        assert all(r.resource["dfm.site"] == r.attributes["dfm.site"] for r in runs)
    check_metrics(receiver)


def test_sites_without_a_collector_forward_through_the_application(
    meteo: Path, receiver: OtlpReceiver
) -> None:
    env = env_for(receiver, "http/protobuf", DFM_TELEMETRY_FORWARD="app")
    status, _, _ = run_app(meteo, "processes", **env)
    assert status == "FAILED"
    spans = job_spans(receiver)
    check_span_tree(spans)
    for run in (s for s in spans if s.name == "dfm.site.run"):
        assert run.resource["dfm.site"] == run.attributes["dfm.site"]
    check_metrics(receiver)


def test_nothing_is_sent_when_telemetry_is_off(meteo: Path, receiver: OtlpReceiver) -> None:
    env = env_for(receiver, "http/protobuf")
    del env["DFM_TELEMETRY"]
    status, _, _ = run_app(meteo, "processes", **env)
    assert status == "FAILED"
    time.sleep(0.5)
    assert receiver.raw_requests == []


@pytest.fixture(params=["refused", "black hole"])
def dead_collector(request: pytest.FixtureRequest) -> Iterator[str]:
    """An endpoint where nothing answers: a closed port, or one that never reads."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if request.param == "refused":
        sock.close()
        yield f"http://127.0.0.1:{port}"
        return
    sock.listen(64)  # accepts connections in the backlog, never reads a byte
    yield f"http://127.0.0.1:{port}"
    sock.close()


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_a_dead_collector_never_blocks_and_exit_takes_at_most_3_s(
    meteo: Path, dead_collector: str, mode: str
) -> None:
    env = {
        "DFM_TELEMETRY": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": dead_collector,
        "OTEL_BSP_SCHEDULE_DELAY": "10",  # export while the job runs
        "OTEL_METRIC_EXPORT_INTERVAL": "50",
    }
    status, exit_seconds, stderr = run_app(meteo, mode, **env)
    assert status == "FAILED"  # the job ran as without telemetry
    assert exit_seconds <= 3.0, exit_seconds
    print(f"exit {exit_seconds:.2f} s")
    # Nothing per span: a few lines per process and signal when exporting starts to fail
    # (the SDK exporter's own, then DFM's), however many spans the job has.
    processes = 4 if mode == "processes" else 1
    assert stderr.count("\n") <= 8 * processes, stderr


def test_transition_spans_are_opt_in(meteo: Path, receiver: OtlpReceiver) -> None:
    env = env_for(receiver, "http/protobuf", DFM_TELEMETRY_TRANSITION_SPANS="1")
    status, _, _ = run_app(meteo, "threads", **env)
    assert status == "FAILED"
    spans = receiver.wait_for_spans(three_runs_and_the_job, 30)
    by_id = {s.span_id: s for s in spans}
    firings = [s for s in spans if s.name == "dfm.transition"]
    assert firings and all(by_id[f.parent_span_id].name == "dfm.site.run" for f in firings)
    calls = [s for s in spans if "dfm.operation" in s.attributes]
    assert len(calls) == 15
    assert all(by_id[c.parent_span_id].name == "dfm.transition" for c in calls)
    assert all(
        by_id[c.parent_span_id].attributes["dfm.frame"] == c.attributes["dfm.frame"] for c in calls
    )


def test_past_the_span_limit_calls_are_counted_and_traced_ones_name_their_frame(
    meteo: Path, receiver: OtlpReceiver
) -> None:
    env = env_for(receiver, "http/protobuf", DFM_TELEMETRY_MAX_ADAPTER_SPANS="2")
    status, _, _ = run_app(meteo, "threads", **env)
    assert status == "FAILED"
    spans = receiver.wait_for_spans(three_runs_and_the_job, 30)
    runs = {s.attributes["dfm.site"]: s for s in spans if s.name == "dfm.site.run"}
    calls = [s for s in spans if "dfm.operation" in s.attributes]
    for site, run in runs.items():
        traced = [c for c in calls if c.attributes["dfm.site"] == site]
        assert len(traced) == 2, (site, traced)  # each site makes more than 2 calls
        assert all(c.attributes["dfm.frame"].startswith("[") for c in traced), traced
        assert run.attributes["dfm.adapter.untraced_calls"] >= 1
