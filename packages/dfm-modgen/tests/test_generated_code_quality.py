"""Generated code is formatted (ruff) and typed: a user's pipeline passes mypy --strict."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import load_federation_config

SCRIPT = """
from dfm.api import Pipeline, PlaceParam, Yield
from examplefed.fed.api.users import GreetMe
from examplefed.fed.site.concierge.users import GreetMe as ConciergeGreetMe


def build() -> Pipeline:
    with Pipeline(name="greet") as p:
        hello = GreetMe(name="x")
        local = ConciergeGreetMe(name=hello, greeting="Hi {name}")
        GreetMe(name=PlaceParam(place="who"), site="reception")
        Yield(value=hello)
        Yield(value=local, place="local")
    return p


name: str = GreetMe.__api_name__
"""

BROKEN = """
from examplefed.fed.api.users import GreetMe

GreetMe(name=3)
GreetMe(nam="x")
"""

# Long and short policy constants, so their layout is checked against ruff too.
TRUST = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: trustfmt}
operations:
  some.rather.long.module.LoadTheReadingsOfTheCity: {returns: x}
  other.rather.long.module.SummarizeTheReadings: {returns: x}
  x.Y: {returns: x}
sites:
  long_site:
    allow-pickle: true
    allow-modules: [first.long.package.models, second.long.package.models, third.one]
    interface:
      "#/operations/some.rather.long.module.LoadTheReadingsOfTheCity":
        {adapter: m.A, keep-on-site: true}
      "#/operations/other.rather.long.module.SummarizeTheReadings":
        {adapter: m.A, keep-on-site: true}
      "#/operations/x.Y": {adapter: m.A, keep-on-site: true}
  medium_site:
    allow-modules: [a]
    interface:
      "#/operations/some.rather.long.module.LoadTheReadingsOfTheCity":
        {adapter: m.A, keep-on-site: true}
      "#/operations/x.Y": {adapter: m.A, keep-on-site: true}
  short_site:
    interface:
      "#/operations/x.Y": {adapter: m.A, keep-on-site: true}
"""

PLUGIN_CONFIG = """
[mypy]
strict = True
plugins = pydantic.mypy

[pydantic-mypy]
init_forbid_extra = True
init_typed = True
"""


def _mypy(
    args: list[str], mypypath: Path, cwd: Path, cache: Path
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=str(mypypath))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", str(cache), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the runs of this module (the first run is the slow one)."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.fixture(scope="module")
def examplefed_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fixtures = Path(__file__).parent / "data" / "fixtures"
    out = tmp_path_factory.mktemp("gen")
    generate_federation(load_federation_config(fixtures / "examplefed/federation.dfm.yaml"), out)
    return out


def test_user_pipeline_passes_mypy_strict(
    examplefed_out: Path, tmp_path: Path, mypy_cache: Path
) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed")
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(SCRIPT))
    done = _mypy(["--strict", "pipeline.py"], examplefed_out, tmp_path, mypy_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "mypy.ini").write_text(PLUGIN_CONFIG)
    plugin_cache = mypy_cache / "plugin"
    done = _mypy(
        ["--config-file", "mypy.ini", "pipeline.py"], examplefed_out, tmp_path, plugin_cache
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_catches_wrong_arguments(
    examplefed_out: Path, tmp_path: Path, mypy_cache: Path
) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed")
    (tmp_path / "broken.py").write_text(textwrap.dedent(BROKEN))
    done = _mypy(["--strict", "broken.py"], examplefed_out, tmp_path, mypy_cache)
    assert done.returncode == 1
    assert "broken.py:4" in done.stdout and "broken.py:5" in done.stdout


def test_generated_code_is_ruff_formatted(
    fixtures: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stand_ins: Callable[[Path, str], None],
) -> None:
    pytest.importorskip("ruff", reason="ruff is not installed")
    out = tmp_path / "out"
    for rel in ("examplefed/federation.dfm.yaml", "testpkg/testpkg.dfm.yaml"):
        generate_federation(load_federation_config(fixtures / rel), out)
    monkeypatch.chdir(fixtures / "weatherfed")
    generate_federation(load_federation_config("federation.dfm.yaml"), out)
    rich = Path(__file__).parent / "test_apigen_api.py"
    namespace: dict[str, object] = {}
    exec(compile(rich.read_text().split("\n\n\n@pytest.fixture")[0], str(rich), "exec"), namespace)
    from dfm.modgen.config import load_federation_config_from_string

    generate_federation(load_federation_config_from_string(str(namespace["RICH"])), out)
    generate_federation(load_federation_config_from_string(TRUST), out)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "--diff",
            "--isolated",
            "--no-cache",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
