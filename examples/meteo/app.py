"""The meteo demo: a pipeline across three sites, run on the local target.

Run ``dfm gen meteo.dfm.yaml --output .`` in this folder first (the README's demo command
does it for you), then ``python app.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from meteo.fed.api.data import LoadReadings  # noqa: E402
from meteo.fed.api.report import Format  # noqa: E402
from meteo.fed.api.stats import Merge, Summarize  # noqa: E402

from dfm.api import Frame, Operation, Pipeline, PlaceParam, Yield  # noqa: E402
from dfm.session import Session  # noqa: E402


def build_pipeline() -> Pipeline:
    """Load readings on both data sites, summarize, merge and format the report."""
    with Pipeline(name="climate-report") as pipeline:
        north = Summarize(readings=LoadReadings(city=PlaceParam(place="north_city"), site="north"))
        south = Summarize(readings=LoadReadings(city=PlaceParam(place="south_city"), site="south"))
        Yield(value=north["mean"], place="north_mean")
        Yield(value=south["mean"], place="south_mean")
        Yield(
            value=Format(summary=Merge(first=north, second=south), title="North and south"),
            place="report",
        )
    return pipeline


def show(site: str, node: int | str | None, frame: Frame, place: str, data: Any) -> None:
    """Print every token as it arrives."""
    value = f"{data:.2f}" if isinstance(data, float) else data
    print(f"  {frame!s:>5}  {place:<13} from {site:<6} {value}")


def main() -> int:
    """Prepare the pipeline, show where each operation runs, and execute it."""
    with Session(federation_name="meteo", homesite="app") as session:
        pipeline = build_pipeline()
        prepared = session.prepare(pipeline)
        names = {
            s.dfm_node_id.as_identifier(): type(s).__api_name__
            for s in pipeline.dfm_body
            if isinstance(s, Operation)
        }
        print("Placement (chosen by cost: summaries are computed next to the data):")
        for node, site in prepared.placement.items():
            print(f"  {node:<6} {names[node]:<20} -> {site}")
        cities = [
            {"north_city": "oslo", "south_city": "seville"},
            {"north_city": "tromso", "south_city": "naples"},
            {"north_city": "bergen", "south_city": "atlantis"},  # south has no such city
        ]
        print("Results (the third set asks south for a city it does not hold, to show how")
        print("an error reaches exactly the results that depend on it):")
        started = time.perf_counter()
        job = session.execute(prepared, input_params=cities, default_callback=show)
        job.wait_until_finished(timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        print(f"Job {job.job_id}: {job.get_status().name} in {elapsed:.1f} ms")
        for error in job.errors:
            print(f"  failed: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
