"""``dfm check`` / ``dfm gen --check``: every adapter is imported and fits its binding.

And the run-time error of a missing adapter class names the class and its module.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dfm.modgen import check_adapters
from dfm.modgen._cli import check_command, gen_command
from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import load_federation_config, load_federation_config_from_string

Importer = Callable[[Path, str], ModuleType]

CONFIG = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: checkfed}
operations:
  data.Load:
    parameters: {city: {type: string}, days: {type: integer}}
    required: [city]
    returns: object
  data.Ping: {returns: string}
sites:
  s:
    interface:
      "#/operations/data.Load": {adapter: checklib.Good, args: from-operation}
      "#/operations/data.Ping": {adapter: checklib.Ping, is-async: false}
    providers:
      p:
        interface:
          "#/operations/data.Load":
            adapter: checklib.Mapped
            args: {where: {from-param: city}, how_long: {from-param: days}, unit: {const: C}}
  t:
    interface:
      "#/operations/data.Load": {adapter: checklib.Sloppy, args: from-operation}
      "#/operations/data.Ping": {adapter: checklib.Nope}
  u:
    interface:
      "#/operations/data.Load": {adapter: {path: checklib.Built, args: {colour: red}}, args: {}}
      "#/operations/data.Ping": {adapter: nomodule_here.Ping}
  v:
    interface:
      "#/operations/data.Load": {adapter: checklib.NoBody, args: from-operation}
      "#/operations/data.Ping": {adapter: checklib.Ping}
  w:
    impl: checklib.NoSite
    secrets_vault: {path: checklib.Vault, args: {prefx: X_}}
    providers:
      q: {impl: checklib.NoProvider}
"""

CHECKLIB = """
class Good:
    async def body(self, city, days=30):
        return city, days


class Ping:
    def body(self):
        return "pong"


class Mapped:
    def __init__(self, site=None):
        self.site = site

    async def body(self, where, how_long=1, unit="K"):
        return where


class Sloppy:
    def __init__(self, cfg):
        self.cfg = cfg

    def body(self, town, days, *, strict):
        return town


class Built:
    def __init__(self, size=1):
        self.size = size

    async def body(self, **kwargs):
        return kwargs


class NoBody:
    pass


class Vault:
    def __init__(self, prefix="DFM_"):
        self.prefix = prefix

    def secret_for_key(self, key):
        return key
"""

EXPECTED = [
    ("w.impl", "module 'checklib' has no class 'NoSite'"),
    ("w.providers.q.impl", "module 'checklib' has no class 'NoProvider'"),
    (
        "w.secrets_vault",
        "checklib.Vault() does not accept 'prefx', which secrets_vault.args gives (prefx)",
    ),
    (
        't.interface["#/operations/data.Load"].adapter',
        "checklib.Sloppy() requires 'cfg', which adapter.args does not give (nor does the "
        "runtime: it gives only site and provider)",
    ),
    (
        't.interface["#/operations/data.Load"].adapter',
        "checklib.Sloppy.body is a plain function but the binding says is-async: true (the "
        "default): make it 'async def' or set is-async: false",
    ),
    (
        't.interface["#/operations/data.Load"].adapter',
        "checklib.Sloppy.body() does not accept 'city', which the binding passes "
        "(args: from-operation)",
    ),
    (
        't.interface["#/operations/data.Load"].adapter',
        "checklib.Sloppy.body() requires 'town', which the binding never passes",
    ),
    (
        't.interface["#/operations/data.Load"].adapter',
        "checklib.Sloppy.body() requires 'days', which the binding passes (args: "
        "from-operation) only when the pipeline sets it (the parameter is optional): give it "
        "a default",
    ),
    (
        't.interface["#/operations/data.Load"].adapter',
        "checklib.Sloppy.body() requires 'strict', which the binding never passes",
    ),
    ('t.interface["#/operations/data.Ping"].adapter', "module 'checklib' has no class 'Nope'"),
    (
        'u.interface["#/operations/data.Load"].adapter',
        "checklib.Built() does not accept 'colour', which adapter.args gives (colour)",
    ),
    (
        'u.interface["#/operations/data.Ping"].adapter',
        "cannot import module 'nomodule_here' of adapter 'nomodule_here.Ping': "
        "ModuleNotFoundError: No module named 'nomodule_here'",
    ),
    ('v.interface["#/operations/data.Load"].adapter', "checklib.NoBody has no body() method"),
    (
        'v.interface["#/operations/data.Ping"].adapter',
        "checklib.Ping.body is a plain function but the binding says is-async: true (the "
        "default): make it 'async def' or set is-async: false",
    ),
]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "fed.dfm.yaml").write_text(CONFIG)
    (tmp_path / "checklib.py").write_text(textwrap.dedent(CHECKLIB))
    sys.modules.pop("checklib", None)
    yield tmp_path
    sys.modules.pop("checklib", None)


def test_every_mismatch_is_reported_with_file_and_path(project: Path) -> None:
    config = load_federation_config(project / "fed.dfm.yaml")
    issues = check_adapters(config, [project])
    assert all(i.file == (project / "fed.dfm.yaml").resolve() for i in issues)
    got = [(i.path_str.removeprefix("sites."), i.message) for i in issues]
    assert got == EXPECTED
    assert str(project.resolve()) not in sys.path  # the search path is restored


def test_good_adapters_pass(project: Path) -> None:
    config = load_federation_config_from_string(CONFIG.split("  t:")[0], base_dir=project)
    assert check_adapters(config, [project]) == []


def test_bindings_from_other_files_are_reported_there(project: Path) -> None:
    (project / "iface.yaml").write_text(
        'iface:\n  "#/operations/data.Ping": {adapter: checklib.Nope}\n'
    )
    (project / "ref.dfm.yaml").write_text(
        CONFIG.split("sites:")[0] + 'sites:\n  w: {interface: {$ref: ["iface.yaml#/iface"]}}\n'
    )
    [issue] = check_adapters(load_federation_config(project / "ref.dfm.yaml"), [project])
    assert issue.file == (project / "iface.yaml").resolve()
    assert issue.path_str == 'iface["#/operations/data.Ping"].adapter'
    assert issue.message == (
        "module 'checklib' has no class 'Nope' (used as sites.w.interface via $ref from "
        "ref.dfm.yaml)"
    )


def test_dfm_check_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_command([str(project / "fed.dfm.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == ("dfm check: error: 14 problems with the adapters of federation 'checkfed':")
    assert len(lines) == 1 + len(EXPECTED)
    where = f"  - {project.resolve() / 'fed.dfm.yaml'}: sites."
    assert all(line.startswith(where) for line in lines[1:])
    good = project / "good.dfm.yaml"
    good.write_text(CONFIG.split("  t:")[0])
    assert check_command([str(good), "--path", str(project)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        "dfm check: federation 'checkfed': the adapters of all 3 bindings fit their operations\n"
    )


def test_dfm_check_reports_config_errors_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = CONFIG.replace("checklib.Ping, is-async", "Ping, is-async")
    (tmp_path / "bad.dfm.yaml").write_text(bad)
    assert check_command([str(tmp_path / "bad.dfm.yaml")]) == 1
    assert "must be 'module.Class'" in capsys.readouterr().err
    assert check_command([]) == 2


def test_dfm_gen_check_generates_then_checks(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert gen_command(["fed.dfm.yaml", "--output", "out", "--check"]) == 1
    out, err = capsys.readouterr()
    assert (project / "out" / "checkfed" / "fed" / "runtime" / "s" / "__init__.py").is_file()
    assert "dfm gen: error: 14 problems with the adapters of federation 'checkfed':" in err
    (project / "good.dfm.yaml").write_text(CONFIG.split("  t:")[0])
    assert gen_command(["good.dfm.yaml", "--output", "out", "--check"]) == 0
    out, err = capsys.readouterr()
    assert "the adapters of all 3 bindings fit their operations" in out


def test_missing_adapter_class_names_class_and_module(
    project: Path, import_generated: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dfm-modgen sits beside the runtime: a stand-in for what _this_site.py imports.
    stub = ModuleType("dfm.runtime")
    for name in ("Site", "Provider", "CacheConfig", "SecretsVaultConfig", "build_advice"):
        setattr(stub, name, type(name, (), {}))
    monkeypatch.setitem(sys.modules, "dfm.runtime", stub)
    config = load_federation_config(project / "fed.dfm.yaml")
    generate_federation(config, project / "out")
    site = import_generated(project / "out", "checkfed.fed.runtime.t")
    monkey_path = str(project)
    sys.path.insert(0, monkey_path)
    try:
        with pytest.raises(ImportError) as info:
            site.ThisSite  # noqa: B018 - importing ThisSite imports the adapters
    finally:
        sys.path.remove(monkey_path)
    assert str(info.value) == (
        "The adapter of data.Ping on site t is checklib.Nope, but module 'checklib' has no "
        "class 'Nope': fix 'adapter' of that binding in the federation config (and run dfm "
        "gen), or define the class"
    )


def test_the_dfm_cli_entry_points_are_registered() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group="dfm.cli") if ep.name in ("gen", "check")}
    assert found["check"].load() is check_command
    assert found["gen"].load() is gen_command
