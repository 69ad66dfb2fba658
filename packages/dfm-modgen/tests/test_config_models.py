"""Config models: spellings, defaults, normalisation, direct validation."""

from __future__ import annotations

import pytest

from dfm.modgen.config import (
    ConstArg,
    ConstructorCall,
    FederationConfig,
    FromParamArg,
    FromProviderArg,
    FromSecretsArg,
    FromSiteArg,
    load_federation_config_from_string,
    site_identifier,
)

HEAD = "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: modfed}\n"


def test_both_spellings_are_accepted() -> None:
    config = load_federation_config_from_string(
        """
dfm: 1.0.0
info: {api_version: 2.0.1, code_package: modfed}
operations:
  a.Op:
    properties:
      p: {type: string, accepts_node_input: false, accepts-place-input: false}
    returns: string
sites:
  s:
    interface:
      "#/operations/a.Op":
        adapter: m.A
        is_async: false
        args:
          x: {from_param: p}
          y: {const: 1, expose_as: {param: z, type: integer, accepts_literal_input: true}}
          w: {from_secrets: KEY}
          v: {from_site: federation_name}
"""
    )
    assert config.info.api_version == "2.0.1"
    spec = config.operations["a.Op"].parameters["p"]
    assert (spec.accepts_node_input, spec.accepts_place_input, spec.accepts_literal_input) == (
        False,
        False,
        True,
    )
    binding = config.sites["s"].interface["a.Op"]
    assert binding.is_async is False
    assert isinstance(binding.args, dict)
    assert binding.args["x"] == FromParamArg(from_param="p")
    assert isinstance(binding.args["w"], FromSecretsArg)
    assert isinstance(binding.args["v"], FromSiteArg)
    assert [(a, e.param, e.type) for a, e in binding.exposed()] == [("y", "z", ["integer"])]


def test_defaults() -> None:
    config = load_federation_config_from_string(
        HEAD
        + """
operations:
  a.Op:
    parameters:
      req: {type: string, default: ignored}
      opt: {type: number, default: 2.5}
      none: {type: [string, "null"]}
      flag: {type: boolean, default: false}
    required: [req, ghost]
    returns: string
  b.NoParams: {returns: string}
sites:
  s:
    interface:
      "#/operations/a.Op": {adapter: m.A, args: from-operation}
      "#/operations/b.NoParams": {adapter: m.A}
"""
    )
    op = config.operations["a.Op"]
    assert op.type == "object"
    assert op.is_required("req") and not op.is_required("opt")
    assert op.parameters["opt"].has_default and op.parameters["opt"].default == 2.5
    assert op.parameters["flag"].has_default and op.parameters["flag"].default is False
    assert not op.parameters["none"].has_default
    assert op.parameters["none"].type == ["string", "null"]
    binding = config.sites["s"].interface["b.NoParams"]
    assert binding.args == {}  # no args: body() gets no arguments
    assert binding.keep_on_site is False
    assert binding.is_async is True
    assert binding.compute_cost is None
    assert binding.adapter == ConstructorCall(path="m.A")
    site = config.sites["s"]
    assert site.impl is None and site.cache_config is None and site.secrets_vault is None


def test_falsy_constants_are_kept() -> None:
    config = load_federation_config_from_string(
        HEAD
        + """
operations: {a.Op: {returns: x}}
sites:
  s:
    interface:
      "#/operations/a.Op":
        adapter: {path: m.A, args: {n: 0}}
        args:
          zero: {const: 0}
          off_: {const: false}
          empty: {const: ""}
          list: {const: []}
          map: {const: {}}
          nothing: {const: null}
"""
    )
    args = config.sites["s"].interface["a.Op"].args
    assert isinstance(args, dict)
    values = {k: v.const for k, v in args.items() if isinstance(v, ConstArg)}
    assert values == {"zero": 0, "off_": False, "empty": "", "list": [], "map": {}, "nothing": None}
    assert config.sites["s"].interface["a.Op"].adapter.args == {"n": 0}


def test_from_provider_parts_and_impl_forms() -> None:
    config = load_federation_config_from_string(
        HEAD
        + """
operations: {a.Op: {returns: x}}
sites:
  "alpha@example.com":
    impl: {path: my.Site, args: {region: eu}}
    providers:
      greeter:
        impl: my.Provider
        interface:
          "#/operations/a.Op": {adapter: m.A, args: {g: {from-provider: greeter.default}}}
"""
    )
    site = config.sites["alpha@example.com"]
    assert config.site_ids() == {"alpha": "alpha@example.com"}
    assert site.impl == ConstructorCall(path="my.Site", args={"region": "eu"})
    provider = site.providers["greeter"]
    assert provider.impl == ConstructorCall(path="my.Provider")
    args = provider.interface["a.Op"].args
    assert isinstance(args, dict)
    source = args["g"]
    assert isinstance(source, FromProviderArg)
    assert (source.provider, source.attribute) == ("greeter", "default")


def test_direct_validation_of_a_resolved_dict() -> None:
    config = FederationConfig.model_validate(
        {
            "dfm": "1.0.0",
            "info": {"api-version": "1.0.0", "code-package": "direct"},
            "operations": {"a.Op": {"returns": "x", "parameters": {"p": {"type": "string"}}}},
            "sites": {
                "s": {
                    "interface": {
                        "#/operations/a.Op": {
                            "adapter": "m.A",
                            "args": {"p": {"from-param": "p"}, "c": {"const": 0}},
                        }
                    }
                }
            },
        }
    )
    binding = config.sites["s"].interface["a.Op"]
    assert isinstance(binding.args, dict)
    assert binding.args["c"] == ConstArg(const=0)


def test_models_are_frozen() -> None:
    config = load_federation_config_from_string(HEAD)
    with pytest.raises(ValueError, match="frozen"):
        config.info.description = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "ident"), [("concierge", "concierge"), ("concierge@examplefed.com", "concierge")]
)
def test_site_identifier(key: str, ident: str) -> None:
    assert site_identifier(key) == ident


def test_site_identifier_is_the_one_of_dfm_api() -> None:
    import dfm.api
    from dfm.modgen.config import CacheConfig, SecretsVaultConfig

    assert CacheConfig is dfm.api.CacheConfig and SecretsVaultConfig is dfm.api.SecretsVaultConfig

    # one rule for every package: a keyword or a dash cannot name a site's module
    assert site_identifier is dfm.api.site_identifier
    for bad in ("class@host", "a-b", "1st"):
        with pytest.raises(ValueError, match="not usable"):
            site_identifier(bad)
