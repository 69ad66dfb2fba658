"""``dfm init``: a new federation whose config loads cleanly and generates."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from dfm.modgen._cli import init_command
from dfm.modgen._scaffold import ScaffoldError, check_name, scaffold_files, write_scaffold
from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import load_federation_config


def test_init_writes_a_federation_that_loads_and_generates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert init_command(["initfed"]) == 0
    out = capsys.readouterr().out
    assert "created federation 'initfed' in initfed (6 files)" in out
    assert "next: cd initfed && dfm gen initfed.dfm.yaml --output . && python app.py" in out
    folder = tmp_path / "initfed"
    config = load_federation_config(folder / "initfed.dfm.yaml")
    assert config.code_package == "initfed"
    assert sorted(config.sites) == ["app", "east", "west"]
    assert not config.sites["app"].interface  # the application's site offers nothing
    generate_federation(config, folder)
    assert (folder / "initfed" / "fed" / "api" / "greet.py").is_file()
    for path in (folder / "app.py", folder / "initfed" / "lib" / "adapters.py"):
        ast.parse(path.read_text())  # valid Python


def test_the_adapters_do_what_the_config_says(tmp_path: Path) -> None:
    write_scaffold("adaptfed", tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        adapters = importlib.import_module("adaptfed.lib.adapters")
        import asyncio

        assert asyncio.run(adapters.Hello().body(name="Ada")) == "Hello, Ada!"
        assert adapters.Shout().body(text="hi") == "HI"  # is-async: false
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "adaptfed"]:
            del sys.modules[name]


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("mine\n")
    assert init_command(["keepfed", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already has app.py; dfm init never overwrites" in err
    assert (tmp_path / "app.py").read_text() == "mine\n"
    assert not (tmp_path / "keepfed.dfm.yaml").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("my-fed", "cannot be a federation name"),
        ("1fed", "cannot be a federation name"),
        ("class", "cannot be a federation name"),
        ("dfm", "reserved for DFM"),
        ("json", "already installed"),
    ],
)
def test_bad_names(name: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match=expected):
        check_name(name)
    assert init_command([name, "--dir", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_every_file_names_the_federation() -> None:
    files = scaffold_files("zfed")
    assert set(files) == {
        "zfed.dfm.yaml",
        "zfed/__init__.py",
        "zfed/lib/__init__.py",
        "zfed/lib/adapters.py",
        "app.py",
        "README.md",
    }
    assert all("$" not in text for text in files.values())  # every placeholder filled
    assert "from zfed.fed.api.greet import Hello" in files["app.py"]
