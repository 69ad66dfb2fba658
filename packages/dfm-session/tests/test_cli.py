from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dfm.session import clear_target_cache
from dfm.session._cli import run_command, targets_command


def test_targets_lists_name_distribution_version(
    entry_points: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert targets_command([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "DISTRIBUTION", "VERSION"]
    assert out[1].split() == ["fake", "dfm-target-fake", "1.2"]


def test_targets_flags_duplicates(entry_points: Any, capsys: pytest.CaptureFixture[str]) -> None:
    fake = entry_points[0]
    entry_points.append(type(fake)("fake", "x:T", type(fake.dist)("other", "3"), None))
    clear_target_cache()
    assert targets_command([]) == 1
    assert "DUPLICATE" in capsys.readouterr().out


def test_help_is_first_docstring_line() -> None:
    assert (run_command.__doc__ or "").splitlines()[0].startswith("Run a saved pipeline")
    assert (targets_command.__doc__ or "").splitlines()[0].startswith("List the installed")


def test_run_reports_errors(
    entry_points: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    code = run_command(
        [str(missing), "--federation", "fakefed", "--homesite", "home", "--target", "fake"]
    )
    assert code == 1
    assert "not found" in capsys.readouterr().err
    assert run_command(["--help"]) == 0
    assert run_command([]) == 2


def test_run_bad_params_json(
    entry_points: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({}))
    code = run_command([str(path), "--federation", "f", "--homesite", "h", "--params", "{nope"])
    assert code == 1
    assert "error" in capsys.readouterr().err
