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
    assert code == 2  # a bad command line, like argparse's own errors
    assert "--params is not JSON" in capsys.readouterr().err


def test_run_names_a_missing_federation_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = tmp_path / "p.json"
    pipeline.write_text('{"dfm_body": []}')
    code = run_command([str(pipeline), "--federation", "no_such_fed_pkg", "--homesite", "a"])
    assert code == 1
    assert "federation package 'no_such_fed_pkg' not found" in capsys.readouterr().err


def test_run_names_the_federation_a_pipeline_belongs_to(tmp_path: Path) -> None:
    from dfm.session._cli import _check_federation

    pipeline = tmp_path / "p.json"
    body = [
        {"dfm_class_name": "meteo.fed.api.data.LoadReadings"},
        {"dfm_class_name": "dfm.api.Yield"},
    ]
    pipeline.write_text(json.dumps({"dfm_body": body}))
    with pytest.raises(ValueError, match="uses operations of 'meteo', not of federation 'json'"):
        _check_federation("json", str(pipeline))
    _check_federation("json", str(tmp_path / "missing.json"))  # loading reports it later
