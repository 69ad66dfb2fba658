"""Tests of `dfm completion`: the script, and the candidates it asks for on each TAB."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from dfm.api import _cli, _completion
from dfm.api._cli import Subcommand

COMMAND_SOURCE = '''
import argparse

def run(argv):
    """Run something."""
    parser = argparse.ArgumentParser(prog="dfm run")
    parser.add_argument("pipeline")
    parser.add_argument("--federation")
    parser.add_argument("-t", "--timeout")
    parser.parse_args(argv)
    return 0

def broken(argv):
    """Raises on --help."""
    raise RuntimeError("boom")
'''


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"fake_dfm_complete_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(COMMAND_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    subs = (
        Subcommand("run", f"{module}:run", "dfm-x"),
        Subcommand("rerun", f"{module}:broken", "dfm-y"),
        Subcommand("gen", f"{module}:run", "dfm-z"),
    )
    monkeypatch.setattr(_cli, "scan_subcommands", lambda: subs)


def test_subcommand_names(installed: None) -> None:
    assert _completion.candidates(0, [""]) == ["gen", "rerun", "run"]
    assert _completion.candidates(0, ["r"]) == ["rerun", "run"]
    assert "--version" in _completion.candidates(0, ["--"])


def test_options_come_from_the_subcommands_help(installed: None) -> None:
    assert _completion.candidates(1, ["run", "--"]) == ["--help", "--federation", "--timeout"]
    assert _completion.candidates(1, ["run", "--f"]) == ["--federation"]
    assert "-t" in _completion.candidates(1, ["run", "-"])


def test_other_words_are_left_to_the_shell(installed: None) -> None:
    assert _completion.candidates(1, ["run", "pipe"]) == []  # file names
    assert _completion.candidates(1, ["nosuch", "--"]) == []
    assert _completion.candidates(1, ["rerun", "--"]) == []  # a broken plugin: nothing


def test_complete_protocol(installed: None, capsys: pytest.CaptureFixture[str]) -> None:
    # the shell counts `dfm` as word 0
    assert _completion.completion_command(["--complete", "2", "run", "--fed"]) == 0
    assert capsys.readouterr().out == "--federation\n"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_script(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _completion.completion_command([shell]) == 0
    script = capsys.readouterr().out
    assert "complete -o default" in script and "dfm completion --complete" in script
    assert ("bashcompinit" in script) == (shell == "zsh")


def test_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _completion.completion_command(["tcsh"])
    assert e.value.code == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_with_the_installed_commands(tmp_path: Path) -> None:
    # A real bash: source the script, then ask the function as TAB would.
    dfm = f"{sys.executable} -c 'import sys; from dfm.api._cli import main; sys.exit(main())'"
    script = textwrap.dedent(
        f"""
        dfm() {{ {dfm} "$@"; }}
        eval "$(dfm completion bash)"
        COMP_WORDS=(dfm comp); COMP_CWORD=1; _dfm_complete; echo "1:${{COMPREPLY[*]}}"
        COMP_WORDS=(dfm completion --); COMP_CWORD=2; _dfm_complete; echo "2:${{COMPREPLY[*]}}"
        """
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1:completion"
    assert lines[1] == "2:--help"
