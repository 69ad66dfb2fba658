"""The CLI as a newcomer uses it: dfm init, dfm gen, python app.py, dfm run, dfm show,
and the common mistakes, each answered by one clear line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DFM = Path(sys.executable).with_name("dfm")


def dfm_command() -> list[str]:
    """The `dfm` console script of this Python, or the same main() without it."""
    if DFM.exists():
        return [str(DFM)]
    return [sys.executable, "-c", "import sys; from dfm.api._cli import main; sys.exit(main())"]


def dfm(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dfm_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def scaffold(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`dfm init clifed`, `dfm gen`, `python app.py Ada Grace`, as the scaffold's README says."""
    root = tmp_path_factory.mktemp("init")
    done = dfm("init", "clifed", cwd=root)
    assert done.returncode == 0, done.stderr
    folder = root / "clifed"
    done = dfm("gen", "clifed.dfm.yaml", "--output", ".", cwd=folder)
    assert done.returncode == 0, done.stderr
    app = subprocess.run(
        [sys.executable, "app.py", "Ada", "Grace"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return folder, app


@pytest.fixture
def project(scaffold: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    return scaffold[0]


def test_the_app_runs_at_once(
    project: Path, scaffold: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    done = scaffold[1]
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "placement: {'node0': 'east', 'node1': 'west'}" in lines
    assert "[0] HELLO, ADA!" in lines and "[1] HELLO, GRACE!" in lines
    assert lines[-1].endswith(": FINISHED")
    assert done.stderr == ""  # no warning for a job that collects its results
    assert (project / "pipeline.json").is_file()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_dfm_run_finds_federation_and_homesite(project: Path) -> None:
    done = dfm("run", "pipeline.json", "--params", '[{"name": "Ada"}, {"name": "Bo"}]', cwd=project)
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stdout)
    shouts = {tuple(r["frame"]): r["data"] for r in records if r.get("place") == "shout"}
    assert shouts == {(0,): "HELLO, ADA!", (1,): "HELLO, BO!"}
    assert records[-1]["status"] == "FINISHED" and records[-1]["errors"] == []
    params = '{"name": "Ada"}'
    text = dfm("run", "pipeline.json", "--params", params, "--format", "text", cwd=project)
    assert text.returncode == 0, text.stderr
    assert "text.Shout (node 1) on west\t[0]\tshout\tHELLO, ADA!" in text.stdout


def test_dfm_show_draws_the_placement(project: Path) -> None:
    done = dfm("show", "pipeline.json", "--format", "dot", "-o", "-", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph pipeline {")
    assert '"cluster_east"' in done.stdout and "greet.Hello" in done.stdout
    if shutil.which("dot"):
        svg = dfm("show", "pipeline.json", cwd=project)
        assert svg.returncode == 0, svg.stderr
        assert (project / "pipeline.svg").read_text().lstrip().startswith("<?xml")


def test_dfm_show_without_graphviz_prints_dot(project: Path) -> None:
    env_path = str(Path(sys.executable).parent)  # python and dfm, but no Graphviz
    done = subprocess.run(
        [*dfm_command(), "show", "pipeline.json", "--format", "svg"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": env_path, "HOME": str(project)},
    )
    if shutil.which("dot", path=env_path):
        pytest.skip("Graphviz is installed next to this Python")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph pipeline {")
    assert "apt-get install graphviz" in done.stderr


MISTAKES = [
    (["--params", '{"nom": "Ada"}'], "Parameter set 0 is missing input parameters"),
    (["--params", '{"name": "Ada"'], "--params is not JSON"),
    (["--homesite", "nope"], "--homesite 'nope' is not a site of federation 'clifed'"),
    (["--federation", "meteo"], "uses operations of 'clifed', not of federation 'meteo'"),
    (["--target", "nope"], "No DFM target named 'nope' is installed"),
    (["--option", "colour=red"], "does not accept the option(s) colour"),
    (["--option", "job_timeout=soon"], "job_timeout must be a positive number of seconds"),
]


@pytest.mark.parametrize(("extra", "expected"), MISTAKES)
def test_mistakes_get_one_clear_line(project: Path, extra: list[str], expected: str) -> None:
    args = ["run", "pipeline.json", *extra]
    if "--params" not in extra:
        args += ["--params", '{"name": "Ada"}']
    done = dfm(*args, cwd=project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("dfm run: error: ") and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "pydantic" not in done.stderr.lower()
    assert done.stderr.count("\n") == 1


def test_a_broken_pipeline_file_gets_one_clear_line(project: Path) -> None:
    broken = project / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "dfm_body": [
                    {
                        "dfm_class_name": "clifed.fed.api.greet.Hello",
                        "name": {"not": "a name"},
                        "dfm_node_id": {"tag": "@dfm-node", "ident": 0},
                    }
                ]
            }
        )
    )
    for command in ("run", "show"):
        done = dfm(command, "broken.json", cwd=project)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"dfm {command}: error: 'broken.json'" in done.stderr
        assert "Traceback" not in done.stderr and "pydantic" not in done.stderr.lower()
        assert done.stderr.count("\n") == 1, done.stderr


def test_the_scaffolded_app_passes_mypy_strict(project: Path) -> None:
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "app.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
