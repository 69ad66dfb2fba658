"""``dfm gen``: output, exit codes, errors on stderr without tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfm.modgen._cli import gen_command

GOOD = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: clifed}
operations: {a.Op: {returns: x}}
sites:
  s: {interface: {"#/operations/a.Op": {adapter: m.A, compute_cost: {fixed_time: 1}}}}
"""


def test_help_line() -> None:
    assert gen_command.__doc__ is not None
    assert gen_command.__doc__.splitlines()[0] == (
        "Generate a federation's Python package from its .dfm.yaml config."
    )


def test_generates_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "fed.dfm.yaml"
    config.write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    assert gen_command([str(config), "--output", "out"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "federation 'clifed' (1 operation, 1 site) -> out/clifed/fed" in out
    assert "written, 0 unchanged, 0 stale removed" in out
    assert (tmp_path / "out" / "clifed" / "fed" / "api" / "a.py").is_file()
    assert gen_command([str(config), "-o", "out", "-v"]) == 0
    out, _ = capsys.readouterr()
    assert " 0 written" in out and "wrote" not in out
    assert "  unchanged out/clifed/fed/api/a.py" in out


def test_verbose_lists_written_unchanged_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fed.dfm.yaml").write_text(GOOD)
    assert gen_command(["fed.dfm.yaml"]) == 0
    stale = tmp_path / "clifed" / "fed" / "api" / "old.py"
    stale.write_text("")
    api = tmp_path / "clifed" / "fed" / "api" / "a.py"
    api.write_text("# edited\n")
    capsys.readouterr()
    assert gen_command(["fed.dfm.yaml", "-v"]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()[2:]
    assert "  wrote     clifed/fed/api/a.py" in lines
    assert "  removed   clifed/fed/api/old.py" in lines
    assert "  unchanged clifed/fed/runtime/fed_info.json" in lines
    summary = out.splitlines()[1].split()
    files, unchanged = int(summary[0]), int(summary[4])
    assert len(lines) == files + 1
    assert sum(line.startswith("  unchanged ") for line in lines) == unchanged


def test_default_output_is_the_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fed.dfm.yaml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    assert gen_command(["fed.dfm.yaml", "--verbose"]) == 0
    out, _ = capsys.readouterr()
    assert "  wrote     clifed/fed/api/a.py" in out
    assert (tmp_path / "clifed" / "fed" / "runtime" / "fed_info.json").is_file()


def test_config_errors_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dfm.yaml"
    bad.write_text(
        GOOD.replace("1.0.0\ninfo", "1.0.1\ninfo").replace("returns: x", "returns: 'a b'")
    )
    assert gen_command([str(bad), "-o", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("dfm gen: error: invalid federation config (2 issues):")
    assert f"{bad}: dfm: expected '1.0.0'" in err
    assert 'operations["a.Op"].returns' in err
    assert "Traceback" not in err
    assert not (tmp_path / "clifed").exists()


def test_missing_file_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_command([str(tmp_path / "nope.yaml")]) == 1
    assert "file not found" in capsys.readouterr().err
    assert gen_command([]) == 2
    assert "required: CONFIG" in capsys.readouterr().err


def test_generation_errors_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clash = tmp_path / "clash.dfm.yaml"
    clash.write_text(
        GOOD.replace(
            "operations: {a.Op: {returns: x}}", "operations: {a.Op: {returns: x}, a: {returns: x}}"
        ).replace("compute_cost: {fixed_time: 1}", "")
    )
    assert gen_command([str(clash), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "dfm gen: error: cannot generate" in err and "both a class and a submodule" in err
    warn = tmp_path / "warn.dfm.yaml"
    warn.write_text(GOOD.replace(", compute_cost: {fixed_time: 1}", ""))
    assert gen_command([str(warn), "-o", str(tmp_path)]) == 0
    assert "dfm gen: warning: compute_cost not set for a.Op" in capsys.readouterr().err


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "fed.dfm.yaml"
    config.write_text(GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert gen_command([str(config), "-o", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dfm gen: error: cannot write")
    assert "Traceback" not in err
