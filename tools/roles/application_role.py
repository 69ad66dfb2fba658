"""An application with only dfm-session and a target installed runs a pipeline.

Run in a folder holding the generated ``meteo`` package, in a venv with
dfm-target-local and its dependencies only. Exits non-zero on any failure.
"""

from __future__ import annotations

import importlib.util
import sys

sys.path.insert(0, ".")

from dfm.api import Frame, Pipeline, PlaceParam, Yield  # noqa: E402
from dfm.session import JobStatus, Session  # noqa: E402

for absent in ("dfm.modgen", "yaml"):
    assert importlib.util.find_spec(absent) is None, f"an application does not need {absent}"

from meteo.fed.api.data import LoadReadings  # noqa: E402
from meteo.fed.api.stats import Summarize  # noqa: E402

with Pipeline() as pipeline:
    readings = LoadReadings(city=PlaceParam(place="city"), site="north")
    Yield(value=Summarize(readings=readings)["mean"], place="mean")
with Session("meteo", "app") as session:
    job = session.execute(session.prepare(pipeline), {"city": "oslo"})
    results = job.results(timeout=60)
assert job.get_status() is JobStatus.FINISHED, job.errors
mean = results["mean"][Frame.start_frame(0)]
print(f"application role: ran on the local target with dfm-session; mean {mean:.2f}")
