"""Federation configs (``*.dfm.yaml``): models, ``$ref`` resolution and loading.

Load a config with `load_federation_config`; every mistake is collected and raised
together as one `ConfigError`.
"""

from ._adapters import (
    AdapterBinding,
    ArgSource,
    ComputeCost,
    ConstArg,
    ExposeAs,
    FromParamArg,
    FromProviderArg,
    FromSecretsArg,
    FromSiteArg,
)
from ._common import JSON_BUILTIN_TYPES, ConstructorCall
from ._errors import ConfigError, ConfigIssue, ConfigPath, format_path
from ._load import (
    load_federation_config,
    load_federation_config_from_dict,
    load_federation_config_from_string,
)
from ._models import (
    OPERATION_KEY_PREFIX,
    CacheConfig,
    FederationConfig,
    FederationInfo,
    ProviderConfig,
    SecretsVaultConfig,
    SendCost,
    SiteConfig,
    site_identifier,
)
from ._operations import InputFlags, OperationConfig, ParameterSpec
from ._provision import (
    DockerBuild,
    Dockerfile,
    DockerProvision,
    DockerPush,
    DockerSave,
    HelmProvision,
    ProvisionConfig,
    RegistryConfig,
)
from ._schemas import SCHEMA_REF_PREFIX

__all__ = [
    "JSON_BUILTIN_TYPES",
    "OPERATION_KEY_PREFIX",
    "SCHEMA_REF_PREFIX",
    "AdapterBinding",
    "ArgSource",
    "CacheConfig",
    "ComputeCost",
    "ConfigError",
    "ConfigIssue",
    "ConfigPath",
    "ConstArg",
    "ConstructorCall",
    "DockerBuild",
    "DockerProvision",
    "DockerPush",
    "DockerSave",
    "Dockerfile",
    "ExposeAs",
    "FederationConfig",
    "FederationInfo",
    "FromParamArg",
    "FromProviderArg",
    "FromSecretsArg",
    "FromSiteArg",
    "HelmProvision",
    "InputFlags",
    "OperationConfig",
    "ParameterSpec",
    "ProviderConfig",
    "ProvisionConfig",
    "RegistryConfig",
    "SecretsVaultConfig",
    "SendCost",
    "SiteConfig",
    "format_path",
    "load_federation_config",
    "load_federation_config_from_dict",
    "load_federation_config_from_string",
    "site_identifier",
]
