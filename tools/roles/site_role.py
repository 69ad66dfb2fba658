"""A site with only dfm-runtime installed runs its part of a pipeline.

Run in a folder holding the generated ``meteo`` package (the config author's output),
in a venv with dfm-runtime and its dependencies only. Exits non-zero on any failure.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from typing import Any

sys.path.insert(0, ".")

from dfm.api import (  # noqa: E402
    START_PLACE_NAME,
    TRUSTED,
    FedInfo,
    FlowInfo,
    Frame,
    Pipeline,
    PlaceParam,
    Yield,
)
from dfm.irgen import prepare  # noqa: E402
from dfm.runtime import (  # noqa: E402
    Router,
    SiteThread,
    TokenPackage,
    encode_params,
    load_site_runtime_module,
)

for absent in ("dfm.session", "dfm.modgen", "yaml"):
    assert importlib.util.find_spec(absent) is None, f"a site does not need {absent}"

from meteo.fed.api.data import LoadReadings  # noqa: E402
from meteo.fed.api.stats import Summarize  # noqa: E402

received: list[TokenPackage | bytes] = []
outcomes: list[str | None] = []
done = threading.Event()


class Collect(Router):
    def route(self, package: TokenPackage) -> None:
        received.append(package)


class Events:
    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        outcomes.append(error)
        done.set()

    def yield_package(self, job_id: str, item: TokenPackage | bytes) -> None:
        received.append(item)

    def site_died(self, site: str, reason: str) -> None:
        outcomes.append(reason)
        done.set()


module = load_site_runtime_module("meteo", "north")  # the site's own adapters
with Pipeline() as pipeline:
    readings = LoadReadings(city=PlaceParam(place="city"))
    Yield(value=Summarize(readings=readings)["mean"], place="mean")
pipeline = pipeline.model_copy(update={"api_version": str(module.API_VERSION)})
prepared = prepare(pipeline, FedInfo.load_from_package("meteo"), "north", "meteo", ["north"])
netir = prepared.net_irs()["north"]
site = SiteThread("north", Collect(), Events(), logging.getLogger("north"))
site.create("job1", netir, False).result(60)
start: dict[str, Any] = {START_PLACE_NAME: FlowInfo()}
framed = [(Frame.start_frame(0), {"city": "oslo", **start}), (Frame.stop_frame(), start)]
site.inject("job1", netir.pick_input_params(encode_params(framed)))
assert done.wait(60), "the site did not finish its job within 60 s"
packages = [p if isinstance(p, TokenPackage) else TokenPackage.from_wire(p) for p in received]
means = [p.unwrap(TRUSTED) for p in packages if p.target_place == "mean"]
assert outcomes == [None] and len(means) == 1, (outcomes, means)
site.close(5)
print(f"site role: north ran its net with dfm-runtime only; mean {means[0]:.2f}")
