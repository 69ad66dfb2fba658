"""One trace per job across FLARE sites, exported as real OTLP to a receiver (issue 9).

The POC's sites run with ``DFM_TELEMETRY=1`` and no collector of their own
(``DFM_TELEMETRY_FORWARD=app``): each sends its spans over DFM's channel to the
application, which exports them with its own. The application is a fresh process
configured by environment variables only, as a user would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.telemetry.testing import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.flare

SITE_ENVIRONMENT = {
    "DFM_TELEMETRY": "1",
    "DFM_TELEMETRY_FORWARD": "app",
    "OTEL_METRIC_EXPORT_INTERVAL": "200",
}
DRIVER = textwrap.dedent(
    """
    import sys
    root, workspace = sys.argv[1], sys.argv[2]
    sys.path.insert(0, root)
    from meteo.fed.api.data import LoadReadings
    from meteo.fed.api.report import Format
    from meteo.fed.api.stats import Merge, Summarize
    from dfm.api import Pipeline, PlaceParam, Yield
    from dfm.session import Session

    with Pipeline(name="traced") as pipeline:
        north = Summarize(readings=LoadReadings(city=PlaceParam(place="n"), site="north"))
        south = Summarize(readings=LoadReadings(city=PlaceParam(place="s"), site="south"))
        merged = Merge(first=north, second=south, site="server")
        Yield(value=Format(summary=merged, title="t", site="app"), place="report")
    cities = [{"n": "oslo", "s": "seville"}, {"n": "bergen", "s": "atlantis"}]  # 2nd fails
    with Session("meteo", "app", target="flare", workspace=workspace) as session:
        job = session.execute(session.prepare(pipeline), cities, default_callback=lambda *a: 0)
        assert job.wait_until_finished(90)
        print("JOB", job.get_status().name, job.job_id, flush=True)
    """
)
PLACEMENT = {
    "data.LoadReadings": {"north", "south"},
    "stats.Summarize": {"north", "south"},
    "stats.Merge": {"server"},
    "report.Format": {"app"},
}
SITES = ["app", "north", "server", "south"]


@pytest.fixture(scope="module")
def traced_federation(
    tmp_path_factory: pytest.TempPathFactory, start_federation: Any
) -> Iterator[Any]:
    with start_federation(tmp_path_factory, "flare-telemetry", SITE_ENVIRONMENT) as federation:
        yield federation


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(http=True) as r:
        yield r


def run_application(federation: Any, receiver: OtlpReceiver, tmp: Path) -> str:
    """Run the driver with telemetry on; the job's status line."""
    script = tmp / "driver.py"
    script.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DFM_TELEMETRY"))}
    env.update(
        DFM_TELEMETRY="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
        OTEL_SERVICE_NAME="meteo-flare",
        OTEL_METRIC_EXPORT_INTERVAL="200",
    )
    done = subprocess.run(
        [sys.executable, str(script), str(federation.root), str(federation.workspace)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return next(line for line in done.stdout.splitlines() if line.startswith("JOB "))


def job_spans(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    def complete(spans: list[ReceivedSpan]) -> bool:
        names = Counter(s.name for s in spans)
        calls = sum(1 for s in spans if "dfm.operation" in s.attributes)
        return names["dfm.job"] == 1 and names["dfm.site.run"] == len(SITES) and calls >= 9

    return [s for s in receiver.wait_for_spans(complete, 30) if s.name != "dfm.prepare"]


def test_one_trace_across_flare_sites_forwarded_over_dfm(
    traced_federation: Any, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    status = run_application(traced_federation, receiver, tmp_path)
    assert status.split()[1] == "FAILED", status  # frame 1 fails on south
    spans = job_spans(receiver)
    assert len({s.trace_id for s in spans}) == 1, Counter(s.trace_id for s in spans)
    (job,) = [s for s in spans if s.name == "dfm.job"]
    assert job.parent_span_id == "" and job.attributes["dfm.target"] == "flare"
    runs = {s.attributes["dfm.site"]: s for s in spans if s.name == "dfm.site.run"}
    assert sorted(runs) == SITES
    assert all(r.parent_span_id == job.span_id for r in runs.values())
    assert all(r.attributes["dfm.job.id"] == job.attributes["dfm.job.id"] for r in runs.values())
    calls = [s for s in spans if "dfm.operation" in s.attributes]
    # north: 2 loads, 2 summaries; south: 2 loads (one fails), 1 summary; server 1; app 1
    assert len(calls) == 9, Counter((c.name, c.attributes["dfm.site"]) for c in calls)
    for call in calls:
        site = call.attributes["dfm.site"]
        assert site in PLACEMENT[call.name], (call.name, site)
        assert call.parent_span_id == runs[site].span_id, (call.name, site)
    failed = [c for c in calls if c.status_code == 2]
    assert [(c.name, c.attributes["dfm.site"]) for c in failed] == [("data.LoadReadings", "south")]
