"""Discovery in the meteo federation: which cities and periods can each data site serve?

Run ``dfm gen meteo.dfm.yaml --output .`` in this folder first, then ``python discover.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from meteo.fed.api.data import LoadReadings  # noqa: E402

from dfm.api import DISCOVERY_PLACE_NAME, Advise, Frame, Pipeline  # noqa: E402
from dfm.session import Session  # noqa: E402


def build_discovery() -> Pipeline:
    """Ask every data site about ``city`` and ``days``; check one choice on south."""
    with Pipeline(name="what-can-i-load", mode="discovery") as pipeline:
        LoadReadings(city=Advise(), days=Advise())
        LoadReadings(city="atlantis", days=7, site="south")
    return pipeline


def show(site: str, node: int | str | None, frame: Frame, place: str, data: Any) -> None:
    """Print each site's advice; the status tokens that follow are not shown."""
    if place != DISCOVERY_PLACE_NAME:
        return
    for node_id, advice in data:
        print(f"{site}, node {node_id}:")
        text = "no advice: every given value is good" if advice is None else advice.describe()
        print("\n".join(f"    {line}" for line in text.splitlines()))


def main() -> int:
    """Run the discovery pipeline on the local target."""
    with Session(federation_name="meteo", homesite="app") as session:
        job = session.execute(session.prepare(build_discovery()), default_callback=show)
        job.wait_until_finished(timeout=60)
        print(f"Job {job.job_id}: {job.get_status().name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
