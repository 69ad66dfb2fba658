"""docs/install.md's install lines, run as written on fresh venvs from a fresh wheelhouse.

The blocks marked ``<!-- install-test: NAME -->`` in docs/install.md are run literally
with bash in an empty folder holding ``dist/`` (the wheels of every distribution under
packages/, built here as ``hatch run build-all`` builds them). DFM comes from
``dist/`` only; pydantic and PyYAML come from the machine's package index (pip's cache
keeps reruns fast).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_DOC = ROOT / "docs" / "install.md"
TIMEOUT = 600  # seconds for one block: venv, pip install, commands


def doc_block(name: str) -> str:
    text = INSTALL_DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- install-test: {re.escape(name)} -->\n```bash\n(.*?)```", text, re.S)
    assert found, f"docs/install.md has no block marked install-test: {name}"
    return found.group(1)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheels of every distribution under packages/ (what `hatch run build-all` makes)."""
    out = tmp_path_factory.mktemp("wheelhouse") / "dist"
    out.mkdir()
    packages = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
    if importlib.util.find_spec("hatchling") is not None:
        for package in packages:
            subprocess.run(
                [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
                cwd=package,
                check=True,
                capture_output=True,
                timeout=TIMEOUT,
            )
    elif shutil.which("uv"):  # hatch's uv environments have no pip
        for package in packages:
            subprocess.run(
                ["uv", "build", "--quiet", "--wheel", "-o", str(out), str(package)],
                check=True,
                timeout=TIMEOUT,
            )
    else:  # the user's pip; build isolation fetches hatchling from the index
        subprocess.run(
            ["python3", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
            + [str(p) for p in packages],
            check=True,
            timeout=TIMEOUT,
            env=clean_env(out),
        )
    assert len(list(out.glob("*.whl"))) == len(packages)
    return out


def clean_env(home: Path) -> dict[str, str]:
    """The user's shell, not this test's environment: no venv, no hatch, no PYTHONPATH."""
    ours = Path(sys.prefix).resolve()
    path = [
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and not Path(p).resolve().is_relative_to(ours)
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HATCH_", "VIRTUAL_ENV", "PYTHON", "UV_", "PIP_REQUIRE"))
    }
    env["PATH"] = os.pathsep.join(path)
    # DFM's caches go to the test's folder; pip keeps its own cache (speed).
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["XDG_CACHE_HOME"] = str(home / "xdg-cache")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run_doc_lines(script: str, wheelhouse: Path, home: Path) -> subprocess.CompletedProcess[str]:
    home.mkdir()
    (home / "dist").symlink_to(wheelhouse, target_is_directory=True)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=home,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


def installed(home: Path) -> set[str]:
    listed = subprocess.run(
        [str(home / ".venv" / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {line.split("==")[0].lower() for line in listed.splitlines()}


@pytest.mark.time_limit(900)
def test_a_la_carte_install_as_documented(wheelhouse: Path, tmp_path: Path) -> None:
    home = tmp_path / "app"
    done = run_doc_lines(doc_block("a-la-carte"), wheelhouse, home)
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["local", "dfm-target-local"] in [r[:2] for r in rows], done.stdout
    names = installed(home)
    assert {"dfm-api", "dfm-irgen", "dfm-runtime", "dfm-session", "dfm-target-local"} <= names
    assert "dfm-modgen" not in names and "pyyaml" not in names  # an application needs neither


@pytest.mark.time_limit(900)
def test_dfm_all_install_and_a_first_federation_as_documented(
    wheelhouse: Path, tmp_path: Path
) -> None:
    home = tmp_path / "all"
    script = doc_block("dfm-all") + doc_block("first-federation")
    done = run_doc_lines(script, wheelhouse, home)
    commands = re.findall(r"^  (\w+)  ", done.stdout, re.M)
    assert {"completion", "gen", "init", "run", "show", "targets"} <= set(commands), done.stdout
    assert "[0] HELLO, ADA!" in done.stdout
    names = installed(home)
    packages = {p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file()}
    assert packages <= names  # every distribution, dfm-all included
