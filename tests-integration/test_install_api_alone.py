"""dfm-api installs alone: pydantic and nothing heavy, and the `dfm` command runs."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_api_installs_into_an_empty_venv(tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT / "packages" / "dfm-api"),
        ],
        check=True,
        timeout=600,
    )
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert "pydantic" in names and "dfm-api" in names
    assert not any(n.startswith(("nvflare", "opentelemetry", "dfm-irgen")) for n in names), names
    subprocess.run([python, "-c", "import dfm.api; dfm.api.Pipeline()"], check=True, timeout=120)
    help_text = subprocess.run(
        [env / "bin" / "dfm", "--help"], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert "usage" in help_text.lower()
    assert sys.version_info >= (3, 11)
