"""The meteo example end to end: dfm gen, prepare, execute on the local target."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame, StopToken

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "meteo"


@pytest.fixture(scope="module")
def meteo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Generate the meteo federation into a temp copy and import its app module."""
    root = tmp_path_factory.mktemp("meteo")
    shutil.copytree(EXAMPLE, root / "meteo_example", ignore=shutil.ignore_patterns("fed"))
    work = root / "meteo_example"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dfm.api._cli import main; sys.exit(main())",
            "gen",
            "meteo.dfm.yaml",
            "--output",
            ".",
        ],
        cwd=work,
        check=True,
        timeout=120,
    )
    sys.path.insert(0, str(work))
    for name in [m for m in sys.modules if m == "meteo" or m.startswith("meteo.")]:
        del sys.modules[name]  # another test's meteo must not stand in for this one
    import importlib.util

    spec = importlib.util.spec_from_file_location("meteo_app", work / "app.py")
    assert spec and spec.loader
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    yield app
    sys.path.remove(str(work))
    for name in [m for m in sys.modules if m == "meteo" or m.startswith("meteo.")]:
        del sys.modules[name]


def test_placement_keeps_raw_data_on_data_sites(meteo: Any) -> None:
    from dfm.session import Session

    with Session(federation_name="meteo", homesite="app") as session:
        prepared = session.prepare(meteo.build_pipeline())
    assert list(prepared.placement.values()) == ["north", "north", "south", "south", "app", "app"]
    assert sorted(prepared.get_participating_sites()) == ["app", "north", "south"]


def test_pipeline_runs_across_three_sites(meteo: Any) -> None:
    from dfm.session import JobStatus, Session

    received: list[tuple[str, Frame, str, Any]] = []

    def collect(site: str, node: int | str | None, frame: Frame, place: str, data: Any) -> None:
        received.append((site, frame, place, data))

    with Session(federation_name="meteo", homesite="app") as session:
        prepared = session.prepare(meteo.build_pipeline())
        job = session.execute(
            prepared,
            input_params=[
                {"north_city": "oslo", "south_city": "seville"},
                {"north_city": "bergen", "south_city": "atlantis"},
            ],
            default_callback=collect,
        )
        assert job.wait_until_finished(timeout=60)
        assert job.get_status() == JobStatus.FAILED
    by_place = {(frame, place): (site, data) for site, frame, place, data in received}
    f0, f1 = Frame.start_frame(0), Frame.start_frame(1)
    assert by_place[(f0, "north_mean")][0] == "north"
    assert by_place[(f0, "south_mean")][0] == "south"
    site, report = by_place[(f0, "report")]
    assert site == "app" and report.startswith("North and south: 1440 readings")
    assert isinstance(by_place[(f0, STATUS_PLACE_NAME)][1], StopToken)
    # Frame 1: south fails; only what depends on it gets the error.
    assert isinstance(by_place[(f1, "north_mean")][1], float)
    for place in ("south_mean", "report", STATUS_PLACE_NAME):
        error = by_place[(f1, place)][1]
        assert isinstance(error, ErrorToken)
        assert "atlantis" in error.errors[0].message
        assert error.errors[0].site == "south"
    assert isinstance(by_place[(Frame.stop_frame(), STATUS_PLACE_NAME)][1], StopToken)
    assert received[-1][1].is_stop_frame()


def test_discovery_script_advises_cities(meteo: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    from dfm.api import DISCOVERY_PLACE_NAME, NodeId
    from dfm.api.discovery import AdvisedOneOf, ErrorFieldAdvice, SingleFieldAdvice
    from dfm.session import JobStatus, Session

    spec = importlib.util.spec_from_file_location(
        "meteo_discover", Path(meteo.__file__).parent / "discover.py"
    )
    assert spec and spec.loader
    discover = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(discover)
    received: dict[str, Any] = {}
    with Session(federation_name="meteo", homesite="app") as session:
        job = session.execute(
            session.prepare(discover.build_discovery()),
            place_callbacks={DISCOVERY_PLACE_NAME: lambda s, n, f, p, d: received.update({s: d})},
        )
        assert job.wait_until_finished(timeout=60)
        assert job.get_status() == JobStatus.FINISHED

    def cities(names: list[str]) -> SingleFieldAdvice:
        return SingleFieldAdvice(
            "city", AdvisedOneOf(names), SingleFieldAdvice("days", AdvisedOneOf([1, 7, 30, 90]))
        )

    error = "Expected one of ['seville', 'malaga', 'naples'] but got atlantis"
    assert received == {
        "north": [(NodeId(ident=0), cities(["oslo", "tromso", "bergen"]))],
        "south": [
            (NodeId(ident=0), cities(["seville", "malaga", "naples"])),
            (NodeId(ident=1), SingleFieldAdvice("city", "atlantis", ErrorFieldAdvice(error))),
        ],
    }
    assert discover.main() == 0
    out = capsys.readouterr().out
    assert "city: one of ['oslo', 'tromso', 'bergen']" in out and error in out
