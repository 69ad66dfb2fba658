"""`dfm gen` output running on the real dfm.runtime: site modules load, adapters get called.

dfm-modgen's own tests check the generated runtime code against a stand-in of the
runtime; here it runs on ``dfm.runtime.Site``/``Provider`` themselves.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import (
    FederationConfig,
    load_federation_config,
    load_federation_config_from_string,
    site_identifier,
)
from dfm.runtime import CacheConfig, DfmContext, Provider, Site, load_site_runtime_module

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "packages" / "dfm-modgen" / "tests" / "data" / "fixtures"

EXAMPLEFED_LIB = """
class GreetMe:
    async def body(self, name: str, greet_fmt: str) -> str:
        return greet_fmt.format(name=name)


class GreetMeReception:
    def __init__(self, site=None):
        self.site = site

    async def body(self, name: str, venue: str) -> str:
        return f"Good day, {name}. Welcome to {venue}."
"""

TESTPKG_TYPES = """
from pydantic import BaseModel


class CustomModel(BaseModel):
    when: str = "now"
"""

TESTPKG_VAULT = """
class VaultImpl:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def secret_for_key(self, key: str) -> str:
        return self.prefix + key
"""

GENERIC_ADAPTER = """

class {name}:
    def __init__(self, **kwargs):
        self.init = kwargs

    def body(self, **kwargs):  # sync: generated async call methods accept that too
        return ({name!r}, kwargs)
"""


def _context(federation: str, site: str) -> DfmContext:
    return DfmContext(
        job_id="job-1",
        federation_name=federation,
        homesite=site,
        this_site=site,
        api_version="0.0.1",
        router=None,  # type: ignore[arg-type]  # nothing is sent in these tests
    )


def _write(root: Path, module: str, text: str) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.parents:
        if parent == root:
            break
        (parent / "__init__.py").touch()
    with path.open("a") as f:
        f.write(textwrap.dedent(text))


def _stub_user_code(config: FederationConfig, root: Path) -> None:
    """Write a stand-in for every adapter and impl class the config names."""
    written: set[str] = set()

    def add(path: str, text: str) -> None:
        if path not in written:
            written.add(path)
            module, _, _ = path.rpartition(".")
            _write(root, module, text)

    for site in config.sites.values():
        if site.impl:
            name = site.impl.path.rpartition(".")[2]
            add(
                site.impl.path,
                f"\nfrom dfm.runtime import Site\n\n\nclass {name}(Site):\n    pass\n",
            )
        for prov in site.providers.values():
            if prov.impl:
                name = prov.impl.path.rpartition(".")[2]
                add(
                    prov.impl.path,
                    f"\nfrom dfm.runtime import Provider\n\n\nclass {name}(Provider):\n    pass\n",
                )
            for b in prov.interface.values():
                add(b.adapter.path, GENERIC_ADAPTER.format(name=b.adapter.path.rpartition(".")[2]))
        for b in site.interface.values():
            add(b.adapter.path, GENERIC_ADAPTER.format(name=b.adapter.path.rpartition(".")[2]))


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "out"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        del sys.modules[name]
    importlib.invalidate_caches()


def test_examplefed_runs_on_the_runtime(out: Path) -> None:
    config = load_federation_config(FIXTURES / "examplefed" / "federation.dfm.yaml")
    generate_federation(config, out)
    _write(out, "examplefed.lib.customer_service", EXAMPLEFED_LIB)
    module = load_site_runtime_module("examplefed", "concierge")
    assert module.API_VERSION == "0.0.1"
    site = module.ThisSite(_context("examplefed", "concierge"))
    assert isinstance(site, Site)
    assert asyncio.run(site.call_users_GreetMe(name="Ann")) == (
        "Hello from the local app, Ann! How are you?"
    )
    assert asyncio.run(site.call_users_GreetMe(name="Ann", greeting="Yo {name}")) == "Yo Ann"
    reception = load_site_runtime_module("examplefed", "reception")
    rsite = reception.ThisSite(_context("examplefed", "reception"))
    assert rsite.adapter_users_GreetMe.site is rsite
    assert asyncio.run(rsite.call_users_GreetMe(name="Ann")) == (
        "Good day, Ann. Welcome to examplefed."
    )


@pytest.mark.parametrize("rel", ["testpkg/testpkg.dfm.yaml", "weatherfed/federation.dfm.yaml"])
def test_fixture_site_modules_load(rel: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / rel.split("/")[0])
    config = load_federation_config(FIXTURES / rel)
    generate_federation(config, out)
    _stub_user_code(config, out)
    if config.code_package == "testpkg":
        _write(out, "testpkg.lib.custom_types", TESTPKG_TYPES)
        _write(out, "testpkg.lib.vault", TESTPKG_VAULT)
    for key, site_config in config.sites.items():
        sid = site_identifier(key)
        module = load_site_runtime_module(config.code_package, key)
        site = module.ThisSite(_context(config.code_package, sid))
        for op, binding in site_config.interface.items():
            method = getattr(site, f"call_{op.replace('.', '_')}")
            assert inspect.iscoroutinefunction(method) is binding.is_async
    if config.code_package == "testpkg":
        worker = importlib.import_module("testpkg.fed.runtime.worker").ThisSite(
            _context("testpkg", "worker")
        )
        assert worker.secret_for_key("K") == "SECRET_K"  # the configured vault
        kind, got = asyncio.run(worker.call_tasks_ProcessData(input_state={"v": 1}))
        assert kind == "ProcessAdapter" and got == {"input_state": {"v": 1}}
        assert worker.call_tasks_GenerateReport(results=1) == ("ReportAdapter", {"results": 1})


PROVIDERS = """
dfm: 1.0.0
info: {api-version: 0.0.1, code-package: provfed}
operations:
  ops.Echo: {returns: Any, parameters: {a: {type: string}}}
sites:
  main:
    cache_config: {protocol: file, base_path: BASE}
    providers:
      prov:
        impl: {path: provlib.Greeter, args: {greeting: hello}}
        interface:
          "#/operations/ops.Echo":
            adapter: provlib.Echo
            args:
              a: {from-param: a}
              g: {from-provider: prov.greeting}
              key: {from-secrets: api_key}
              fed: {from-site: federation_name}
"""

PROVLIB = """
from dfm.runtime import Provider


class Greeter(Provider):
    def __init__(self, site, greeting):
        super().__init__(site)
        self.greeting = greeting


class Echo:
    def __init__(self, site, provider):
        self.site, self.provider = site, provider

    async def body(self, **kwargs):
        with self.site.telemetry_span("inner", {}):
            return kwargs
"""


def test_provider_operations_run(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_federation_config_from_string(PROVIDERS.replace("BASE", str(tmp_path / "c")))
    generate_federation(config, out)
    _write(out, "provlib", PROVLIB)
    monkeypatch.setenv("DFM_SECRET_API_KEY", "s3cret")
    module: ModuleType = load_site_runtime_module("provfed", "main")
    site: Any = module.ThisSite(_context("provfed", "main"))
    assert isinstance(site.prov, Provider) and site.prov.site is site
    assert site.prov.adapter_ops_Echo.provider is site.prov
    got = asyncio.run(site.prov.call_ops_Echo(a="x"))
    assert got == {"a": "x", "g": "hello", "key": "s3cret", "fed": "provfed"}
    assert site.cache_storage("sub") == tmp_path / "c" / "sub"
    assert isinstance(module.ThisSite.__mro__[1](_context("provfed", "main"), CacheConfig()), Site)


def test_prepare_never_imports_the_homesite_adapters(out: Path) -> None:
    from dfm.api import Pipeline, Yield
    from dfm.session import Session

    config = load_federation_config(FIXTURES / "examplefed" / "federation.dfm.yaml")
    generate_federation(config, out)
    _write(out, "examplefed.lib.customer_service", "raise RuntimeError('adapters imported')\n")
    greet_me = importlib.import_module("examplefed.fed.api.users").GreetMe
    with Pipeline() as pipeline:
        Yield(value=greet_me(name="Ann"))
    session = Session("examplefed", homesite="concierge", target="local")
    prepared = session.prepare(pipeline)
    assert prepared.api_version == "0.0.1"
    assert "examplefed.lib.customer_service" not in sys.modules
