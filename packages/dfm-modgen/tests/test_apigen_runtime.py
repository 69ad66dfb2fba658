"""Generated site runtimes: adapter wiring and call semantics, and fed_info.json.

dfm-modgen sits below dfm-runtime, so these tests run the generated ``ThisSite``
against a minimal stand-in for ``dfm.runtime`` that follows the documented
contract (``tests-integration/test_gen_runtime.py`` uses the real one).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dfm.api import FedInfo
from dfm.modgen.apigen import DEFAULT_COMPUTE_COST, build_fed_info, generate_federation
from dfm.modgen.config import load_federation_config_from_string

Importer = Callable[[Path, str], ModuleType]


class StubSite:
    def __init__(
        self,
        dfm_context: Any,
        cache_config: Any = None,
        secrets_vault_config: Any = None,
        **impl_args: Any,
    ) -> None:
        self._ctx = dfm_context
        self.cache_config = cache_config
        self.secrets_vault_config = secrets_vault_config
        self.impl_args = impl_args
        self.spans: list[tuple[str, dict[str, str]]] = []
        self.secret_lookups: list[str] = []

    @property
    def dfm_context(self) -> Any:
        return self._ctx

    @property
    def federation_name(self) -> str:
        return "callfed"

    def secret_for_key(self, key: str) -> str:
        self.secret_lookups.append(key)
        return f"secret:{key}"

    @contextmanager
    def telemetry_span(self, name: str, attributes: dict[str, str]) -> Iterator[None]:
        self.spans.append((name, attributes))
        yield None


@dataclass(frozen=True)
class StubCacheConfig:
    protocol: str = "file"
    storage_options: dict[str, Any] = field(default_factory=dict)
    base_path: str | None = None


@dataclass(frozen=True)
class StubSecretsVaultConfig:
    path: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


class StubProvider:
    def __init__(self, site: Any, **impl_args: Any) -> None:
        self._site = site
        self.impl_args = impl_args

    @property
    def site(self) -> Any:
        return self._site


async def stub_build_advice(adapter: Any, /, **params: Any) -> Any:
    """Stands for dfm.runtime.build_advice: shows what the discover method passed."""
    return (adapter, params)


CONFIG = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: callfed}
operations:
  ops.Echo:
    parameters: {a: {type: string}, b: {type: integer}, g: {type: string}}
    returns: Any
  ops.Echo2: {returns: Any, parameters: {a: {type: string}}}
  ops.Sync: {returns: Any, parameters: {a: {type: string}}}
  ops.Bad: {returns: Any}
  ops.Pass: {returns: Any, parameters: {a: {type: string}, b: {type: string}}}
sites:
  "main@callfed.org":
    impl: {path: calllib.MySite, args: {region: eu}}
    cache_config: {protocol: memory, base_path: /c}
    secrets_vault: {path: calllib.Vault, args: {prefix: X_}}
    send_cost: {"other@x.org": {fixed_time: 2.0, bandwidth: 100}}
    providers:
      prov:
        impl: {path: calllib.MyProvider, args: {greeting: hello}}
        interface:
          "#/operations/ops.Echo":
            adapter: {path: calllib.Echo, args: {tag: provider}}
            compute_cost: {fixed_time: 0.5, fixed_size: 10}
            args:
              a: {from-param: a}
              mine: {from-provider: prov.greeting}
              where: {from-site: federation_name}
              key: {from-secrets: API_KEY}
    interface:
      "#/operations/ops.Echo":
        adapter: {path: calllib.Echo, args: {tag: one}}
        args:
          a: {from-param: a}
          b: {from-param: b}
          zero: {const: 0}
          flag_off: {const: false}
          empty: {const: ""}
          nothing: {const: null}
          lst: {const: []}
          fmt: {const: "Hi {a}", expose-as: {param: greeting, type: string}}
          key: {from-secrets: API_KEY, expose-as: {param: key_override, type: string}}
          greet: {from-provider: prov.greeting}
          region: {from-site: region}
      "#/operations/ops.Echo2":
        adapter: {path: calllib.Echo, args: {tag: two}}
        args: {a: {from-param: a}}
      "#/operations/ops.Sync":
        adapter: calllib.SyncEcho
        is-async: false
        args: {a: {from-param: a}}
      "#/operations/ops.Bad":
        adapter: calllib.Echo
        is-async: false
      "#/operations/ops.Pass":
        adapter: calllib.Echo
        args: from-operation
  other: {}
"""

CALLLIB = """
from dfm.runtime import Provider, Site


class MySite(Site):
    def __init__(self, dfm_context, region, **kwargs):
        super().__init__(dfm_context, **kwargs)
        self.region = region


class MyProvider(Provider):
    def __init__(self, site, greeting):
        super().__init__(site)
        self.greeting = greeting


class Echo:
    def __init__(self, tag="default", site=None, provider=None):
        self.tag, self.site, self.provider = tag, site, provider

    async def body(self, **kwargs):
        return (self.tag, kwargs)


class SyncEcho:
    def body(self, a="adapter default"):
        return a


class Vault:
    pass
"""


@pytest.fixture
def runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, import_generated: Importer
) -> ModuleType:
    stub = ModuleType("dfm.runtime")
    stub.Site = StubSite  # type: ignore[attr-defined]
    stub.Provider = StubProvider  # type: ignore[attr-defined]
    stub.CacheConfig = StubCacheConfig  # type: ignore[attr-defined]
    stub.SecretsVaultConfig = StubSecretsVaultConfig  # type: ignore[attr-defined]
    stub.build_advice = stub_build_advice  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dfm.runtime", stub)
    monkeypatch.delitem(sys.modules, "calllib", raising=False)
    out = tmp_path / "out"
    (out).mkdir()
    (out / "calllib.py").write_text(CALLLIB)
    generate_federation(load_federation_config_from_string(CONFIG), out)
    module = import_generated(out, "callfed.fed.runtime.main")
    yield module
    sys.modules.pop("calllib", None)


def _site(runtime: ModuleType) -> Any:
    return runtime.ThisSite("ctx")


def test_site_construction(runtime: ModuleType) -> None:
    assert runtime.API_VERSION == "1.0.0"
    assert runtime.FEDERATION_NAME == "callfed" and runtime.SITE_NAME == "main"
    site = _site(runtime)
    assert type(site).__mro__[1].__name__ == "MySite"
    assert site.dfm_context == "ctx" and site.region == "eu"
    assert site.cache_config == StubCacheConfig(protocol="memory", base_path="/c")
    assert site.secrets_vault_config == StubSecretsVaultConfig("calllib.Vault", {"prefix": "X_"})
    assert site.prov.site is site and site.prov.greeting == "hello"
    assert type(site.prov).__name__ == "prov"
    # One adapter instance per interface entry, with its own constructor args (B7).
    assert site.adapter_ops_Echo is not site.adapter_ops_Echo2
    assert (site.adapter_ops_Echo.tag, site.adapter_ops_Echo2.tag) == ("one", "two")
    assert site.adapter_ops_Echo.site is site and site.adapter_ops_Echo.provider is None
    assert site.prov.adapter_ops_Echo.tag == "provider"
    assert site.prov.adapter_ops_Echo.site is site
    assert site.prov.adapter_ops_Echo.provider is site.prov


def test_call_semantics(runtime: ModuleType) -> None:
    site = _site(runtime)
    assert inspect.iscoroutinefunction(site.call_ops_Echo)
    tag, got = asyncio.run(site.call_ops_Echo(a="x"))
    assert tag == "one"
    assert got == {
        "a": "x",  # from-param, given
        # b: from-param not given -> not passed, the adapter's default applies
        "zero": 0,  # falsy constants are passed (B3)
        "flag_off": False,
        "empty": "",
        "nothing": None,
        "lst": [],
        "fmt": "Hi {a}",
        "key": "secret:API_KEY",
        "greet": "hello",  # from-provider reads the provider attribute (B5)
        "region": "eu",  # from-site
    }
    assert site.secret_lookups == ["API_KEY"]
    assert site.spans[-1] == (
        "ops.Echo",
        {"dfm.site": "main", "dfm.operation": "ops.Echo", "dfm.adapter": "calllib.Echo"},
    )


def test_exposed_overrides(runtime: ModuleType) -> None:
    site = _site(runtime)
    _, got = asyncio.run(site.call_ops_Echo(greeting="", key_override="mine", b=0))
    # Any value the caller passed overrides, falsy ones too (B8) ...
    assert got["fmt"] == "" and got["key"] == "mine" and got["b"] == 0
    # ... and an overridden secret is not looked up (B29).
    assert site.secret_lookups == []
    _, got = asyncio.run(site.call_ops_Echo(greeting=None))
    assert got["fmt"] == "Hi {a}"


def test_provider_operation(runtime: ModuleType) -> None:
    site = _site(runtime)
    tag, got = asyncio.run(site.prov.call_ops_Echo(a="p"))
    assert tag == "provider"
    assert got == {"a": "p", "mine": "hello", "where": "callfed", "key": "secret:API_KEY"}
    # The span comes from the site (B6).
    assert site.spans[-1][1]["dfm.provider"] == "prov"


def test_from_operation_and_sync(runtime: ModuleType) -> None:
    site = _site(runtime)
    assert asyncio.run(site.call_ops_Pass(b="only b")) == ("default", {"b": "only b"})
    assert asyncio.run(site.call_ops_Pass()) == ("default", {})
    assert not inspect.iscoroutinefunction(site.call_ops_Sync)
    assert site.call_ops_Sync(a="given") == "given"
    assert site.call_ops_Sync() == "adapter default"
    with pytest.raises(TypeError, match="is-async: false"):
        site.call_ops_Bad()


def test_discovery_prepares_arguments_like_the_call(runtime: ModuleType) -> None:
    site = _site(runtime)
    advise = object()  # stands for an Advise() marker: passed through like any value
    _, call_got = asyncio.run(site.call_ops_Echo(a=advise, greeting="Hey"))
    adapter, got = asyncio.run(site.discover_ops_Echo(a=advise, greeting="Hey"))
    assert adapter is site.adapter_ops_Echo
    assert got == call_got and got["a"] is advise and got["fmt"] == "Hey"
    adapter, got = asyncio.run(site.prov.discover_ops_Echo(a="p"))
    assert adapter is site.prov.adapter_ops_Echo
    assert got == {"a": "p", "mine": "hello", "where": "callfed", "key": "secret:API_KEY"}
    assert asyncio.run(site.discover_ops_Pass(b=1)) == (site.adapter_ops_Pass, {"b": 1})


def test_discovery_is_always_a_coroutine(runtime: ModuleType) -> None:
    # B9: the site net always awaits discover_<op>, so a sync adapter's is async too.
    site = _site(runtime)
    assert not inspect.iscoroutinefunction(site.call_ops_Sync)
    for name in ("discover_ops_Sync", "discover_ops_Bad", "discover_ops_Echo"):
        assert inspect.iscoroutinefunction(getattr(site, name))
    adapter, got = asyncio.run(site.discover_ops_Sync(a="given"))
    assert adapter is site.adapter_ops_Sync and got == {"a": "given"}


def test_other_site_has_plain_bases(
    tmp_path: Path, runtime: ModuleType, import_generated: Importer
) -> None:
    other = import_generated(Path(runtime.__file__).parents[4], "callfed.fed.runtime.other")
    site = other.ThisSite("ctx")
    assert type(site).__mro__[1] is StubSite
    assert site.cache_config is None and site.secrets_vault_config is None


def test_fed_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_federation_config_from_string(CONFIG)
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="dfm.modgen"):
        generate_federation(config, out)
    warnings = [r.getMessage() for r in caplog.records]
    text = (out / "callfed/fed/runtime/fed_info.json").read_text()
    info = FedInfo.model_validate(json.loads(text))
    assert info == build_fed_info(config)
    assert list(info.sites) == ["main", "other"]
    main = info.sites["main"]
    assert list(main.interface) == ["ops.Echo", "ops.Echo2", "ops.Sync", "ops.Bad", "ops.Pass"]
    assert main.interface["ops.Echo"].compute_cost == DEFAULT_COMPUTE_COST
    assert DEFAULT_COMPUTE_COST.fixed_time == 1e6 and DEFAULT_COMPUTE_COST.fixed_size == 10**7
    assert main.interface["ops.Sync"].is_async is False
    prov = main.providers["prov"].interface["ops.Echo"]
    assert (prov.compute_cost.fixed_time, prov.compute_cost.fixed_size) == (0.5, 10)
    assert main.send_cost["other"].fixed_time == 2.0
    # Once per adapter class, not once per binding.
    assert len(warnings) == 2
    assert all("compute_cost not set" in w for w in warnings)


def test_unknown_send_cost_target_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    from dfm.modgen.apigen import build_fed_info
    from dfm.modgen.config import load_federation_config_from_string

    config = load_federation_config_from_string(
        "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: x}\n"
        "sites:\n  s: {send_cost: {typo: {fixed_time: 1}, t: {fixed_time: 2}}}\n  t: {}\n"
    )
    with caplog.at_level("WARNING", logger="dfm.modgen"):
        info = build_fed_info(config)
    assert set(info.sites["s"].send_cost) == {"typo", "t"}
    assert any("send_cost for typo" in r.getMessage() for r in caplog.records)
