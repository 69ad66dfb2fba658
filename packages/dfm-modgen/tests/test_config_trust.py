"""Config keys of the trust boundary and the mistakes `dfm gen` refuses (issue 6).

A site's decode policy (``allow-pickle``, ``allow-modules``), ``keep-on-site`` bindings,
adapter paths that name a module and a class, and bindings that would drop parameters.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from dfm.api import FedInfo
from dfm.modgen.apigen import build_fed_info, generate_federation
from dfm.modgen.config import (
    ConfigError,
    ConfigIssue,
    FederationConfig,
    load_federation_config_from_string,
)

Importer = Callable[[Path, str], ModuleType]

HEAD = "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: trustfed}\n"
OPS = """
operations:
  data.Load:
    parameters: {city: {type: string}, days: {type: integer}}
    required: [city]
    returns: object
  data.Ping: {returns: string}
"""


def _load(sites: str) -> FederationConfig:
    return load_federation_config_from_string(HEAD + OPS + "sites:\n" + sites)


def _issues(sites: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as exc:
        _load(sites)
    return exc.value.issues


def _one(sites: str) -> ConfigIssue:
    issues = _issues(sites)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


GOOD = """
  hospital:
    allow-pickle: true
    allow-modules: [hospital_models, shared.types]
    interface:
      "#/operations/data.Load":
        adapter: trustlib.Load
        args: from-operation
        keep-on-site: true
      "#/operations/data.Ping": {adapter: trustlib.Ping}
  lab:
    interface:
      "#/operations/data.Load": {adapter: trustlib.Load, args: from-operation}
"""


# -- the decode policy of a site ---------------------------------------------------------


def test_decode_policy_keys_load() -> None:
    config = _load(GOOD)
    hospital, lab = config.sites["hospital"], config.sites["lab"]
    assert hospital.allow_pickle is True
    assert hospital.allow_modules == ["hospital_models", "shared.types"]
    assert lab.allow_pickle is False and lab.allow_modules == []
    assert hospital.interface["data.Load"].keep_on_site is True
    assert lab.interface["data.Load"].keep_on_site is False


def test_underscore_spellings_are_accepted() -> None:
    config = _load(
        """
  s:
    allow_pickle: true
    allow_modules: [m]
    interface:
      "#/operations/data.Ping": {adapter: trustlib.Ping, keep_on_site: true}
"""
    )
    assert config.sites["s"].allow_pickle and config.sites["s"].allow_modules == ["m"]
    assert config.sites["s"].interface["data.Ping"].keep_on_site


@pytest.mark.parametrize(
    ("site", "path", "message"),
    [
        (
            "{allow-pickle: perhaps}",
            "sites.s.allow-pickle",
            "expected true or false, got 'perhaps'",
        ),
        (
            "{allow-modules: mypkg}",
            "sites.s.allow-modules",
            "expected a list of module prefixes like [mypkg, other.models], got 'mypkg'",
        ),
        (
            "{allow-modules: [ok, my-pkg]}",
            "sites.s.allow-modules[1]",
            "must be a dotted Python module path like 'mypkg.models', got 'my-pkg'",
        ),
        (
            "{allow-modules: [a, b, a]}",
            "sites.s.allow-modules",
            "'a' is listed twice",
        ),
        (
            "{allow-module: [a]}",
            "sites.s",
            "unknown key 'allow-module' (did you mean 'allow-modules'?)",
        ),
    ],
)
def test_decode_policy_mistakes(site: str, path: str, message: str) -> None:
    issue = _one(f"  s: {site}\n")
    assert (issue.path_str, issue.message) == (path, message)


def test_keep_on_site_must_be_a_boolean() -> None:
    issue = _one(
        """
  s:
    interface:
      "#/operations/data.Ping": {adapter: trustlib.Ping, keep-on-site: sometimes}
"""
    )
    assert issue.path_str == 'sites.s.interface["#/operations/data.Ping"].keep-on-site'
    assert issue.message == "expected true or false, got 'sometimes'"


# -- adapter and class paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "path"),
    [
        ('{interface: {"#/operations/data.Ping": {adapter: Echo}}}', ".adapter"),
        ('{interface: {"#/operations/data.Ping": {adapter: {path: Echo}}}}', ".adapter.path"),
    ],
)
def test_adapter_path_needs_a_module(site: str, path: str) -> None:
    issue = _one(f"  s: {site}\n")
    assert issue.path_str == f'sites.s.interface["#/operations/data.Ping"]{path}'
    assert issue.message == (
        "must be 'module.Class' (the class and the module that defines it, like "
        "'mypkg.adapters.Echo'), got 'Echo'"
    )


@pytest.mark.parametrize(
    ("site", "path"),
    [
        ("{impl: MySite}", "sites.s.impl"),
        ("{secrets_vault: {path: Vault}}", "sites.s.secrets_vault.path"),
        ("{providers: {p: {impl: {path: Prov}}}}", "sites.s.providers.p.impl.path"),
    ],
)
def test_other_class_paths_need_a_module(site: str, path: str) -> None:
    issue = _one(f"  s: {site}\n")
    assert issue.path_str == path
    assert issue.message.startswith("must be 'module.Class'")


# -- bindings that would drop parameters ------------------------------------------------


def test_binding_without_args_that_drops_parameters_is_an_error() -> None:
    issue = _one(
        """
  s:
    interface:
      "#/operations/data.Load": {adapter: trustlib.Load}
"""
    )
    assert issue.path_str == 'sites.s.interface["#/operations/data.Load"]'
    assert issue.message == (
        "the binding has no 'args', so body() would get none of the parameters of "
        "'data.Load' (city, days): add 'args: from-operation' to pass them all, or map them "
        "(args: {city: {from-param: city}, ...}); write 'args: {}' to pass none on purpose"
    )


def test_bindings_that_pass_nothing_on_purpose_are_fine() -> None:
    config = _load(
        """
  s:
    interface:
      "#/operations/data.Load": {adapter: trustlib.Load, args: {}}
      "#/operations/data.Ping": {adapter: trustlib.Ping}
"""
    )
    assert config.sites["s"].interface["data.Load"].args == {}


def test_provider_bindings_are_checked_too() -> None:
    issue = _one(
        """
  s:
    providers:
      p:
        interface:
          "#/operations/data.Load": {adapter: trustlib.Load}
"""
    )
    assert issue.path_str == 'sites.s.providers.p.interface["#/operations/data.Load"]'
    assert "args: from-operation" in issue.message


# -- what gets generated -----------------------------------------------------------------


def test_fed_info_carries_keep_on_site() -> None:
    info = build_fed_info(_load(GOOD))
    assert info.sites["hospital"].interface["data.Load"].keep_on_site is True
    assert info.sites["hospital"].interface["data.Ping"].keep_on_site is False
    assert info.sites["lab"].interface["data.Load"].keep_on_site is False
    back = FedInfo.model_validate_json(json.dumps(info.to_json_dict()))
    assert back == info


def test_old_fed_info_files_still_load() -> None:
    old = {"sites": {"a": {"interface": {"x.Op": {"operation": "x.Op", "is_async": False}}}}}
    info = FedInfo.model_validate(old)
    assert info.sites["a"].interface["x.Op"].keep_on_site is False


def test_runtime_package_carries_the_decode_policy_without_importing_adapters(
    tmp_path: Path, import_generated: Importer
) -> None:
    # trustlib (the adapters' module) does not exist: the package must import anyway.
    sys.modules.pop("trustlib", None)
    generate_federation(_load(GOOD.replace("  lab:", PROVIDERS + "  lab:")), tmp_path)
    hospital = import_generated(tmp_path, "trustfed.fed.runtime.hospital")
    lab = import_generated(tmp_path, "trustfed.fed.runtime.lab")
    assert hospital.ALLOW_PICKLE is True
    assert hospital.ALLOW_MODULES == ("trustfed.fed.schema", "hospital_models", "shared.types")
    assert hospital.KEEP_ON_SITE == frozenset({"data.Load", "vault:data.Ping"})
    assert (lab.ALLOW_PICKLE, lab.KEEP_ON_SITE) == (False, frozenset())
    assert lab.ALLOW_MODULES == ("trustfed.fed.schema",)
    assert "trustlib" not in sys.modules
    for name in ("ALLOW_PICKLE", "ALLOW_MODULES", "KEEP_ON_SITE"):
        assert name in hospital.__all__
    source = (tmp_path / "trustfed/fed/runtime/hospital/__init__.py").read_text()
    assert "ALLOW_PICKLE: Final[bool] = True" in source
    assert "ALLOW_MODULES: Final[tuple[str, ...]] = (" in source
    assert "KEEP_ON_SITE: Final[frozenset[str]] = frozenset(" in source


PROVIDERS = """
    providers:
      vault:
        interface:
          "#/operations/data.Ping": {adapter: trustlib.Ping, keep-on-site: true}
"""
