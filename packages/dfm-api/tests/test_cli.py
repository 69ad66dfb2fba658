"""Tests of the `dfm` command dispatcher (dfm.api._cli)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from dfm.api import _cli
from dfm.api._cli import Subcommand, SubcommandConflictError, index_subcommands

COMMANDS_SOURCE = '''
import sys

def hello(argv):
    """Say hello.

    The rest of the docstring is not the help line.
    """
    print("hello", argv)
    return 0

def fail(argv):
    """Fail with exit code 3."""
    return 3

def exits(argv):
    """Exit like argparse does."""
    raise SystemExit(4)

def nodoc(argv):
    return 0

NOT_CALLABLE = 42
'''


@dataclass
class Fakes:
    module: str
    broken_module: str
    lazy_module: str

    def sub(self, name: str, attr: str, dist: str = "dfm-fake") -> Subcommand:
        return Subcommand(name=name, value=f"{self.module}:{attr}", distribution=dist)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """Importable modules of fake subcommands, under names unique to this test."""
    tag = uuid.uuid4().hex[:8]
    f = Fakes(f"fake_dfm_cmds_{tag}", f"fake_dfm_broken_{tag}", f"fake_dfm_lazy_{tag}")
    (tmp_path / f"{f.module}.py").write_text(COMMANDS_SOURCE)
    (tmp_path / f"{f.broken_module}.py").write_text("raise ImportError('boom')\n")
    (tmp_path / f"{f.lazy_module}.py").write_text(
        'def cmd(argv):\n    """Lazy one."""\n    return 0\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return f


def install(monkeypatch: pytest.MonkeyPatch, subs: list[Subcommand]) -> None:
    """Make `dfm` see exactly these entry points."""
    monkeypatch.setattr(_cli, "scan_subcommands", lambda: tuple(subs))


@pytest.fixture
def standard(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    install(
        monkeypatch,
        [
            fakes.sub("hello", "hello", "dfm-one"),
            fakes.sub("fail", "fail"),
            fakes.sub("exits", "exits"),
            fakes.sub("nodoc", "nodoc"),
            fakes.sub("notcallable", "NOT_CALLABLE"),
            Subcommand("broken", f"{fakes.broken_module}:cmd", "dfm-broken"),
            Subcommand("lazy", f"{fakes.lazy_module}:cmd", "dfm-lazy"),
        ],
    )
    return fakes


def test_help_lists_commands_with_first_docstring_line(
    standard: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: dfm")
    lines = out.splitlines()
    assert any(line.split() == ["hello", "Say", "hello."] for line in lines)
    assert "not the help line" not in out
    assert any(line.split()[:1] == ["nodoc"] and "(no description)" in line for line in lines)


def test_help_survives_a_command_that_fails_to_load(
    standard: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["-h"]) == 0
    out = capsys.readouterr().out
    assert "broken" in out
    assert "(failed to load: ImportError: boom)" in out
    assert "(failed to load: TypeError:" in out  # NOT_CALLABLE
    assert "Say hello." in out  # the others are still listed


def test_no_arguments_prints_help(standard: Fakes, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main([]) == 0
    assert "commands:" in capsys.readouterr().out


def test_help_sorted_by_name(standard: Fakes, capsys: pytest.CaptureFixture[str]) -> None:
    _cli.main(["--help"])
    out = capsys.readouterr().out
    listed = out.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [line.split()[0] for line in listed]
    assert names == sorted(names)


def test_help_with_no_commands_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch, [])
    assert _cli.main(["--help"]) == 0
    assert "none installed" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(
    flag: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def not_called() -> tuple[Subcommand, ...]:
        raise AssertionError("--version must not scan entry points")

    monkeypatch.setattr(_cli, "scan_subcommands", not_called)
    try:
        expected = distribution("dfm-api").version
    except PackageNotFoundError:
        expected = "unknown"
    assert _cli.main([flag]) == 0
    assert capsys.readouterr().out == f"DFM, version {expected}\n"


def test_dispatch_passes_remaining_args_and_returns_the_exit_code(
    standard: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["hello", "a", "--help", "-x"]) == 0
    assert capsys.readouterr().out == "hello ['a', '--help', '-x']\n"
    assert _cli.main(["fail"]) == 3
    assert _cli.main(["nodoc"]) == 0


def test_dispatch_loads_only_the_requested_command(standard: Fakes) -> None:
    assert _cli.main(["hello"]) == 0
    assert standard.lazy_module not in sys.modules
    assert standard.broken_module not in sys.modules


def test_system_exit_in_a_command_becomes_its_exit_code(standard: Fakes) -> None:
    assert _cli.main(["exits"]) == 4


def test_unknown_command_lists_the_installed_ones(
    standard: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["nope", "x"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown command 'nope'" in captured.err
    assert "broken, exits, fail, hello, lazy, nodoc, notcallable" in captured.err


def test_unknown_command_with_nothing_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(monkeypatch, [])
    assert _cli.main(["gen"]) == 2
    assert "installed commands: none" in capsys.readouterr().err


def test_unknown_option(standard: Fakes, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--bogus"]) == 2
    assert "unknown option '--bogus'" in capsys.readouterr().err


def test_a_command_that_fails_to_load_names_its_distribution(
    standard: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["broken"]) == 1
    err = capsys.readouterr().err
    assert "dfm-broken" in err
    assert f"{standard.broken_module}:cmd" in err
    assert "ImportError: boom" in err


def test_duplicate_name_from_two_distributions_is_an_error(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install(
        monkeypatch,
        [
            fakes.sub("hello", "hello", "dfm-one"),
            fakes.sub("gen", "hello", "dfm-modgen"),
            fakes.sub("gen", "fail", "acme-dfm-plugin"),
        ],
    )
    for argv in (["gen"], ["hello"], ["--help"]):
        assert _cli.main(argv) == 2
        captured = capsys.readouterr()
        assert "'gen'" in captured.err
        assert "dfm-modgen" in captured.err
        assert "acme-dfm-plugin" in captured.err
        assert captured.out == ""


def test_index_subcommands_raises_naming_both_distributions(fakes: Fakes) -> None:
    a = fakes.sub("gen", "hello", "dfm-modgen")
    b = fakes.sub("gen", "fail", "other-dist")
    with pytest.raises(SubcommandConflictError) as info:
        index_subcommands([a, b])
    assert info.value.registrations == (a, b)
    assert "dfm-modgen" in str(info.value)
    assert "other-dist" in str(info.value)


def test_same_distribution_listed_twice_is_not_a_conflict(fakes: Fakes) -> None:
    a = fakes.sub("gen", "hello", "dfm-modgen")
    assert index_subcommands([a, a]) == {"gen": a}


def test_scan_is_cached_and_lists_without_loading() -> None:
    first = _cli.scan_subcommands()
    assert _cli.scan_subcommands() is first
    for sub in first:
        assert sub.name and ":" in sub.value and sub.distribution


def _installed_dfm_script() -> str | None:
    beside = Path(sys.executable).parent / ("dfm.exe" if sys.platform == "win32" else "dfm")
    if beside.is_file():
        return str(beside)
    return shutil.which("dfm")


def test_console_script_is_declared() -> None:
    try:
        dist = distribution("dfm-api")
    except PackageNotFoundError:
        pytest.skip("dfm-api is not installed")
    (ep,) = [ep for ep in dist.entry_points if ep.group == "console_scripts" and ep.name == "dfm"]
    assert ep.load() is _cli.main


def test_real_dfm_help_and_version() -> None:
    script = _installed_dfm_script()
    if script is None:
        pytest.skip("the dfm command is not installed")
    result = subprocess.run(
        [script, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: dfm")
    assert "commands:" in result.stdout
    version = subprocess.run(
        [script, "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("DFM, version ")
