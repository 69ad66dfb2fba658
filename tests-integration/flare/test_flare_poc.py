"""DFM on a real NVIDIA FLARE POC: pipelines, failures, cancel, reattach, concurrency, modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame, Pipeline, PlaceParam, StopToken, Yield

pytestmark = pytest.mark.flare

Received = list[tuple[str, Frame, str, Any]]


def meteo_pipeline() -> Pipeline:
    from meteo.fed.api.data import LoadReadings
    from meteo.fed.api.report import Format
    from meteo.fed.api.stats import Merge, Summarize

    with Pipeline(name="climate-report") as pipeline:
        north = Summarize(readings=LoadReadings(city=PlaceParam(place="north_city"), site="north"))
        south = Summarize(readings=LoadReadings(city=PlaceParam(place="south_city"), site="south"))
        Yield(value=north["mean"], place="north_mean")
        Yield(value=south["mean"], place="south_mean")
        merged = Merge(first=north, second=south, site="app")
        Yield(value=Format(summary=merged, title="North and south", site="app"), place="report")
    return pipeline


def clients_pipeline() -> Pipeline:
    """Only client sites: north's summary goes to south, which yields."""
    from meteo.fed.api.data import LoadReadings
    from meteo.fed.api.stats import Summarize

    with Pipeline(name="clients-only") as pipeline:
        north = Summarize(
            readings=LoadReadings(city=PlaceParam(place="north_city"), site="north"), site="north"
        )
        south = Summarize(
            readings=LoadReadings(city=PlaceParam(place="south_city"), site="south"), site="south"
        )
        Yield(value=north["mean"], place="north_mean")
        Yield(value=south["mean"], place="south_mean")
    return pipeline


def collector() -> tuple[Received, Any]:
    received: Received = []
    lock = threading.Lock()

    def collect(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        with lock:
            received.append((site, frame, place, data))

    return received, collect


@pytest.fixture(scope="module")
def session(flare_federation: Any) -> Iterator[Any]:
    from dfm.session import Session

    with Session("meteo", "app", target="flare", workspace=str(flare_federation.workspace)) as s:
        yield s


CITIES = [
    {"north_city": "oslo", "south_city": "seville"},
    {"north_city": "bergen", "south_city": "atlantis"},  # south fails this frame
]


def test_meteo_mixed_pipeline_and_failing_adapter(session: Any) -> None:
    from dfm.session import JobStatus

    prepared = session.prepare(meteo_pipeline())
    assert sorted(prepared.get_participating_sites()) == ["app", "north", "south"]
    received, collect = collector()
    job = session.execute(prepared, input_params=CITIES, default_callback=collect)
    assert job.wait_until_finished(timeout=60)
    assert job.get_status() == JobStatus.FAILED
    by_place = {(frame, place): (site, data) for site, frame, place, data in received}
    assert len(by_place) == len(received), "a token was delivered twice"
    f0, f1 = Frame.start_frame(0), Frame.start_frame(1)
    assert by_place[(f0, "north_mean")][0] == "north"
    site, report = by_place[(f0, "report")]
    assert site == "app" and report.startswith("North and south: 1440 readings")
    assert isinstance(by_place[(f0, STATUS_PLACE_NAME)][1], StopToken)
    assert isinstance(by_place[(f1, "north_mean")][1], float)
    for place in ("south_mean", "report", STATUS_PLACE_NAME):
        error = by_place[(f1, place)][1]
        assert isinstance(error, ErrorToken)
        assert "atlantis" in error.errors[0].message and error.errors[0].site == "south"
    assert isinstance(by_place[(Frame.stop_frame(), STATUS_PLACE_NAME)][1], StopToken)
    assert received[-1][1].is_stop_frame()


def test_client_only_homesite_only_and_server_site_pipelines(session: Any) -> None:
    from meteo.fed.api.stats import Merge

    from dfm.session import JobStatus

    received, collect = collector()
    job = session.execute(session.prepare(clients_pipeline()), CITIES[:1], default_callback=collect)
    assert job.wait_until_finished(timeout=60) and job.get_status() == JobStatus.FINISHED
    assert {p for _, _, p, _ in received} == {"north_mean", "south_mean", STATUS_PLACE_NAME}

    summary = {"count": 2, "mean": 1.0, "min": 0.0, "max": 2.0}
    for site in ("server", "app"):
        with Pipeline(name=f"merge-on-{site}") as pipeline:
            Yield(value=Merge(first=summary, second=summary, site=site), place="merged")
        prepared = session.prepare(pipeline)
        assert prepared.get_participating_sites() == [site] or set(
            prepared.get_participating_sites()
        ) <= {site, "app"}
        received, collect = collector()
        job = session.execute(prepared, {}, default_callback=collect)
        assert job.wait_until_finished(timeout=60), site
        assert job.get_status() == JobStatus.FINISHED, (site, job.errors)
        merged = [d for s, _, p, d in received if p == "merged"]
        assert merged == [{"count": 4, "mean": 1.0, "min": 0.0, "max": 2.0}]
        assert [s for s, _, p, _ in received if p == "merged"] == [site]


def test_cancel_and_jobs_listing(session: Any, flare_federation: Any) -> None:
    from dfm.session import JobStatus

    job = session.execute(
        session.prepare(clients_pipeline()), None, autostop=False, default_callback=lambda *a: None
    )
    job.send_input_params(CITIES[0])
    job.cancel()
    assert job.get_status() == JobStatus.ABORTED
    assert job.wait_until_finished(timeout=10)
    deadline = time.monotonic() + 20
    listed: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from dfm.api._cli import main; sys.exit(main())",
                "jobs",
                "--workspace",
                str(flare_federation.workspace),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        listed = {j["job"]: j for j in json.loads(out.stdout)}
        if listed.get(job.job_id, {}).get("status") == "ABORTED":
            break
        time.sleep(0.5)
    assert listed[job.job_id]["status"] == "ABORTED"


def test_twenty_concurrent_jobs(session: Any) -> None:
    from dfm.session import JobStatus

    prepared = session.prepare(clients_pipeline())
    jobs = []
    for i in range(20):
        received, collect = collector()
        params = {"north_city": ["oslo", "tromso", "bergen"][i % 3], "south_city": "naples"}
        jobs.append((session.execute(prepared, [params] * 3, default_callback=collect), received))
    for job, received in jobs:
        assert job.wait_until_finished(timeout=120), job.job_id
        assert job.get_status() == JobStatus.FINISHED, job.errors
        keys = [(f, p) for _, f, p, _ in received]
        assert len(keys) == len(set(keys)) == 3 * 3 + 1  # 3 frames x (2 yields + status) + stop
    assert len({job.job_id for job, _ in jobs}) == 20


REATTACH_SCRIPT = """
import json, os, sys, threading
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
from test_flare_poc import clients_pipeline
from dfm.session import Session
session = Session("meteo", "app", target="flare", workspace={ws!r})
session.connect()
lock = threading.Lock()  # results may come while execute() returns: whole lines only
def say(line):
    with lock:
        print(line, flush=True)
job = session.execute(session.prepare(clients_pipeline()), {params!r},
                      default_callback=lambda *a: say(json.dumps([str(a[2]), a[3]])))
say("JOB " + job.job_id)
os._exit(0)  # gone without closing: the job goes on, its results wait on the server
"""


def test_reattach_from_another_process(session: Any, flare_federation: Any) -> None:
    from dfm.session import JobStatus

    params = [CITIES[0], {"north_city": "tromso", "south_city": "malaga"}]
    script = REATTACH_SCRIPT.format(
        root=str(flare_federation.root),
        here=str(Path(__file__).parent),
        ws=str(flare_federation.workspace),
        params=params,
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    job_id = next(line.split()[1] for line in lines if line.startswith("JOB "))
    early = [tuple(json.loads(line)) for line in lines if line.startswith("[")]
    received, collect = collector()
    job = session.reattach(job_id, default_callback=collect)
    assert job.was_found, out.stderr[-3000:]
    assert job.wait_until_finished(timeout=60)
    assert job.get_status() == JobStatus.FINISHED, job.errors
    late = [(str(f), p) for _, f, p, _ in received]
    # Exactly once to each process; across the crash, what the first process had seen
    # but not yet acknowledged when it died comes again (the server cannot know).
    assert len(late) == len(set(late)), "a token was delivered twice to the new process"
    assert len(early) == len(set(early)), "a token was delivered twice to the first process"
    assert len(set(early) | set(late)) == 2 * 3 + 1, "a token was lost across the reattach"


SENDER_SCRIPT = """
import os, sys, threading
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
from test_flare_poc import clients_pipeline
from dfm.session import Session
session = Session("meteo", "app", target="flare", workspace={ws!r})
session.connect()
first = threading.Event()
def show(*a):
    first.set()  # (results may come before execute() returns: nothing printed here)
job = session.execute(session.prepare(clients_pipeline()), [{params!r}], autostop=False,
                      default_callback=show)
print("JOB", job.job_id, flush=True)
assert first.wait(60)  # frame [0] went through: its input reached the sites
os._exit(0)  # gone without the stop frame: the job waits for more input
"""


def test_a_handle_reattached_from_another_process_sends_more_input(
    session: Any, flare_federation: Any
) -> None:
    from dfm.session import JobStatus

    script = SENDER_SCRIPT.format(
        root=str(flare_federation.root),
        here=str(Path(__file__).parent),
        ws=str(flare_federation.workspace),
        params=CITIES[0],
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    job_id = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("JOB "))
    received, collect = collector()
    job = session.reattach(job_id, default_callback=collect)
    assert job.was_found, out.stderr[-3000:]
    assert job.get_status() == JobStatus.RUNNING, job.errors
    job.send_input_params([{"north_city": "tromso", "south_city": "malaga"}])
    job.send_stop_frame()
    assert job.wait_until_finished(timeout=60)
    assert job.get_status() == JobStatus.FINISHED, job.errors
    frames = {(str(f), p) for _, f, p, _ in received}
    assert ("[1]", "north_mean") in frames and ("[1]", "south_mean") in frames, frames
    assert ("stop", STATUS_PLACE_NAME) in frames, frames
    with pytest.raises(ValueError, match="stop frame"):
        job.send_input_params([CITIES[0]])


def test_unknown_job_reattach(session: Any) -> None:
    from dfm.session import JobStatus

    assert session.reattach("00000000").get_status() == JobStatus.UNKNOWN


def test_per_job_mode(session: Any) -> None:
    from dfm.session import JobStatus

    prepared = session.prepare(meteo_pipeline())
    received, collect = collector()
    started = time.monotonic()
    job = session.execute(
        prepared, CITIES[:1], default_callback=collect, options={"mode": "per-job"}
    )
    assert job.wait_until_finished(timeout=120)
    assert job.get_status() == JobStatus.FINISHED, job.errors
    assert time.monotonic() - started < 60
    assert {p for _, _, p, _ in received} == {
        "north_mean",
        "south_mean",
        "report",
        STATUS_PLACE_NAME,
    }
    failing = session.execute(
        prepared, CITIES[1:], default_callback=lambda *a: None, options={"mode": "per-job"}
    )
    assert failing.wait_until_finished(timeout=120)
    assert failing.get_status() == JobStatus.FAILED
    admin = session.target._admin
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = admin.status(failing.flare_job_id)
        if status.startswith("FINISHED"):
            break
        time.sleep(1)
    assert status == "FINISHED:EXECUTION_EXCEPTION"
    assert (
        admin.status(job.flare_job_id).startswith("FINISHED:COMPLETED")
        or admin.status(job.flare_job_id) == "RUNNING"
    )


def _site_processes(federation: Any, site: str) -> list[Any]:
    import psutil

    marker = f"prod_00/{site}"
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if "python" in cmdline and marker in cmdline and "sub_start" not in cmdline:
            found.append(process)
    return found


def test_zz_killed_client_fails_its_jobs_and_the_service_recovers(
    session: Any, flare_federation: Any
) -> None:
    from dfm.session import JobStatus

    prepared = session.prepare(clients_pipeline())
    job = session.execute(prepared, None, autostop=False, default_callback=lambda *a: None)
    job.send_input_params(CITIES[0])
    victims = _site_processes(flare_federation, "south")
    assert victims, "no south processes found"
    killed_at = time.monotonic()
    for process in victims:
        process.kill()
    assert job.wait_until_finished(timeout=30)
    took = time.monotonic() - killed_at
    assert job.get_status() == JobStatus.FAILED
    assert any("south" in str(e) for e in job.errors), job.errors
    assert took < 10, f"the dead site was noticed after {took:.1f}s"
    # sub_start.sh restarts the client; the next job gets a fresh service and runs.
    received, collect = collector()
    again = session.execute(prepared, CITIES[:1], default_callback=collect)
    assert again.wait_until_finished(timeout=120)
    assert again.get_status() == JobStatus.FINISHED, again.errors


def test_blocks_across_sites(session: Any) -> None:
    """ForEach over a streaming generator, an If inside, a cache hit in a second job."""
    from meteo.fed.api.data import Cities, LoadReadings
    from meteo.fed.api.report import Format
    from meteo.fed.api.stats import Summarize

    from dfm.api import ForEach, GreaterThan, If, TryFromCache
    from dfm.session import JobStatus

    with Pipeline(name="blocks") as pipeline:
        with ForEach(seq=Cities(site="north")) as city:
            summary = Summarize(readings=LoadReadings(city=city, days=1), site="north")
            with If(cond=GreaterThan(left=summary["count"], right=0)):
                Yield(value=Format(summary=summary, title=city, site="app"), place="report")
        with TryFromCache(key=PlaceParam(place="key")) as cached:
            cached.cache(Summarize(readings=LoadReadings(city="oslo", days=2, site="north")))
        Yield(value=cached["count"], place="count")
    prepared = session.prepare(pipeline)
    for _ in range(2):  # the second job hits the cache
        received, collect = collector()
        job = session.execute(prepared, {"key": "oslo-2-days"}, default_callback=collect)
        assert job.wait_until_finished(timeout=60)
        assert job.get_status() == JobStatus.FINISHED, job.errors
        reports = sorted((str(f), d.split(":")[0]) for _, f, p, d in received if p == "report")
        assert reports == [("[0, 0]", "oslo"), ("[0, 1]", "tromso"), ("[0, 2]", "bergen")]
        assert [d for _, _, p, d in received if p == "count"] == [48]
        assert received[-1][1].is_stop_frame()
