"""Site, Provider, secrets, cache storage, and finding a federation's site module."""

from __future__ import annotations

import asyncio
import sys

import pytest
from runtime_testkit import one_op_net

from dfm.runtime import (
    CacheConfig,
    DfmContext,
    JobController,
    Provider,
    Router,
    SecretsVault,
    SecretsVaultConfig,
    SecretsVaultError,
    Site,
    TokenPackage,
    create_secrets_vault,
    load_site_runtime_module,
)

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, **kw):
        return kw.get("x")
"""


class NullRouter(Router):
    def route(self, package: TokenPackage) -> None:
        pass


def ctx(federation: str = "fed") -> DfmContext:
    return DfmContext("job", federation, "app", "s1", "1.2", NullRouter())


def test_site_properties() -> None:
    c = ctx()
    site = Site(c, color="red")
    assert site.dfm_context is c
    assert (site.federation_name, site.api_version, site.site_name) == ("fed", "1.2", "s1")
    assert site.site is site
    assert site.impl_args == {"color": "red"}
    provider = Provider(site, depth=2)
    assert provider.site is site and provider.dfm_context is c
    assert provider.impl_args == {"depth": 2}


async def test_telemetry_span_is_a_sync_and_async_no_op() -> None:
    site = Site(ctx())
    with site.telemetry_span("x", {"a": 1}) as span:
        assert span is None
    async with site.telemetry_span("y") as span:
        assert span is None


def test_env_secrets(monkeypatch) -> None:
    monkeypatch.setenv("DFM_SECRET_API_KEY", "s3cret")
    assert Site(ctx()).secret_for_key("api_key") == "s3cret"
    with pytest.raises(ValueError, match="DFM_SECRET_OTHER"):
        Site(ctx()).secret_for_key("other")
    monkeypatch.setenv("MYAPP_TOKEN", "t")
    vault = create_secrets_vault(SecretsVaultConfig(args={"prefix": "myapp_"}))
    assert vault.secret_for_key("token") == "t"
    site = Site(ctx(), secrets_vault_config=SecretsVaultConfig(args={"prefix": "MYAPP_"}))
    assert site.secret_for_key("TOKEN") == "t"


class DictVault(SecretsVault):
    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__()
        self.secrets = secrets

    def secret_for_key(self, key: str) -> str:
        return self.secrets[key]


def test_configured_vault(monkeypatch) -> None:
    module = type(sys)("vaultmod")
    module.DictVault = DictVault  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vaultmod", module)
    for path in ("vaultmod.DictVault", "vaultmod:DictVault"):
        vault = create_secrets_vault(SecretsVaultConfig(path=path, args={"secrets": {"k": "v"}}))
        assert vault.secret_for_key("k") == "v"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            SecretsVaultConfig(path="nowhere.Vault"),
            r"Cannot create the secrets vault 'nowhere.Vault': ModuleNotFoundError: "
            r"No module named 'nowhere'",
        ),
        (
            SecretsVaultConfig(path="vaultmod.Missing"),
            r"Cannot create the secrets vault 'vaultmod.Missing': module 'vaultmod' has no "
            r"class 'Missing'",
        ),
        (
            SecretsVaultConfig(path="vaultmod.DictVault", args={"bad": 1}),
            r"Cannot create the secrets vault 'vaultmod.DictVault' with args \{'bad': 1\}: "
            r"TypeError: .*unexpected keyword argument 'bad'",
        ),
        (
            SecretsVaultConfig(path="vaultmod.NoLookup"),
            r"'vaultmod.NoLookup' has no secret_for_key method",
        ),
        (
            SecretsVaultConfig(path=None, args={"prefx": "X_"}),
            r"Cannot create the secrets vault \(environment variables\) with args "
            r"\{'prefx': 'X_'\}: TypeError",
        ),
    ],
)
def test_a_vault_that_cannot_be_created_is_an_error_not_a_fallback(
    monkeypatch, caplog, config: SecretsVaultConfig, message: str
) -> None:
    # No silent fall back to environment variables: a site with a broken vault would
    # hand its adapters the wrong secrets (or ones an attacker can set).
    module = type(sys)("vaultmod")
    module.DictVault = DictVault  # type: ignore[attr-defined]
    module.NoLookup = type("NoLookup", (), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vaultmod", module)
    monkeypatch.setenv("DFM_SECRET_K", "from-the-environment")
    with pytest.raises(SecretsVaultError, match=message):
        create_secrets_vault(config)
    with pytest.raises(SecretsVaultError, match=message):
        Site(ctx(), secrets_vault_config=config)
    assert "falling back" not in caplog.text


@pytest.mark.parametrize("path", ["novault", "pkg.", ".Vault", "pkg.mod:", "pkg mod.Vault"])
def test_a_vault_path_that_names_no_class_is_refused_when_configured(path: str) -> None:
    with pytest.raises(ValueError, match=r"must be 'module.Class' .*, got "):
        SecretsVaultConfig(path=path)


def test_the_config_models_are_the_ones_of_dfm_api() -> None:
    import dfm.api
    import dfm.runtime

    # one definition each: the config author, the generated site and the runtime agree
    assert dfm.runtime.CacheConfig is dfm.api.CacheConfig
    assert dfm.runtime.SecretsVaultConfig is dfm.api.SecretsVaultConfig
    assert CacheConfig().protocol == "file"


def test_cache_storage(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    site = Site(ctx("myfed"))
    base = site.cache_storage()
    assert base == tmp_path / "xdg" / "dfm" / "myfed" / "cache" and base.is_dir()
    sub = site.cache_storage("a/b")
    assert sub == base / "a" / "b" and sub.is_dir()
    with pytest.raises(ValueError, match="leaves the cache root"):
        site.cache_storage("../../escape")
    (base / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        site.cache_storage("file")
    configured = Site(ctx(), cache_config=CacheConfig(base_path=str(tmp_path / "mine")))
    assert configured.cache_storage("z") == tmp_path / "mine" / "z"


def test_remote_cache_without_upath_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "upath", None)
    site = Site(ctx(), cache_config=CacheConfig(protocol="s3", base_path="bucket/x"))
    with pytest.raises(RuntimeError, match="universal-pathlib"):
        site.cache_storage()


def test_load_site_runtime_module(make_federation) -> None:
    fed = make_federation({"s1": SITE})
    module = load_site_runtime_module(fed, "s1")
    assert issubclass(module.ThisSite, Site) and module.API_VERSION == "1.0"
    assert load_site_runtime_module(fed, "s1@host:8002") is module
    # the name of the module to import follows dfm.api.site_identifier's one rule
    with pytest.raises(ValueError, match="not usable"):
        load_site_runtime_module(fed, "s1.evil@host")


def test_load_site_runtime_module_errors(make_federation) -> None:
    fed = make_federation(
        {
            "s1": SITE,
            "noversion": "ThisSite = Site\ndel API_VERSION\n",
            "nosite": "",
            "notasite": "class ThisSite:\n    pass\n",
        }
    )
    with pytest.raises(ValueError, match=rf"{fed}\.fed\.runtime\.zz.*dfm gen"):
        load_site_runtime_module(fed, "zz")
    with pytest.raises(ValueError, match="nofed"):
        load_site_runtime_module("nofed", "s1")
    with pytest.raises(ValueError, match="does not define API_VERSION"):
        load_site_runtime_module(fed, "noversion")
    with pytest.raises(ValueError, match="does not define ThisSite"):
        load_site_runtime_module(fed, "nosite")
    with pytest.raises(ValueError, match="subclass of dfm.runtime.Site"):
        load_site_runtime_module(fed, "notasite")


async def test_job_controller_checks_the_api_major_version(make_federation) -> None:
    fed = make_federation({"app": SITE}, api_version="2.3")
    ir = one_op_net(fed)  # built with API 1.0
    with pytest.raises(ValueError, match="API major version mismatch.*2.3.*1.0"):
        JobController(ir, job_id="j", router=NullRouter())
    fed2 = make_federation({"app": SITE}, api_version="1.7")
    controller = JobController(one_op_net(fed2), job_id="j", router=NullRouter())
    assert isinstance(controller.site, Site)
    assert controller.ctx.this_site == "app"


async def test_job_controller_passes_site_kwargs(make_federation, tmp_path) -> None:
    fed = make_federation({"app": SITE})
    controller = JobController(
        one_op_net(fed),
        job_id="j",
        router=NullRouter(),
        site_kwargs={"cache_config": CacheConfig(base_path=str(tmp_path / "c"))},
    )
    assert controller.site.cache_storage() == tmp_path / "c"


async def test_job_controller_raises_when_this_site_fails(make_federation) -> None:
    fed = make_federation(
        {"app": SITE + "\n    def __init__(self, ctx):\n        raise OSError('db down')\n"}
    )
    with pytest.raises(OSError, match="db down"):
        JobController(one_op_net(fed), job_id="j", router=NullRouter())


def test_runner_without_a_loop_is_a_clear_error(make_federation) -> None:
    fed = make_federation({"app": SITE})
    controller = JobController(one_op_net(fed), job_id="j", router=NullRouter())
    with pytest.raises(RuntimeError, match="no event loop"):
        controller.runner.start()
    loop = asyncio.new_event_loop()
    try:
        controller2 = JobController(one_op_net(fed), job_id="j", router=NullRouter(), loop=loop)
        assert controller2.runner.loop is loop

        async def run() -> None:
            controller2.runner.start()
            controller2.runner.cancel()
            await controller2.runner.done

        loop.run_until_complete(run())
    finally:
        loop.close()


def test_the_constants_load_without_the_adapters(make_federation) -> None:
    lazy = (
        "__all__ = ['API_VERSION', 'ThisSite']\nAPI_VERSION = '1.0'\n"
        "def __getattr__(name):\n    raise AttributeError('adapter module lacks Echo')\n"
    )
    fed = make_federation({"s1": SITE, "lazy": lazy})
    assert load_site_runtime_module(fed, "lazy", adapters=False).API_VERSION == "1.0"
    # A missing adapter class is reported as it is, not as "regenerate the package".
    with pytest.raises(ValueError, match="Cannot load .*lazy.ThisSite: adapter module lacks Echo"):
        load_site_runtime_module(fed, "lazy")
