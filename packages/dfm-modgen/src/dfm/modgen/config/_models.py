"""Sites, providers and the federation config object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PrivateAttr

from dfm.api import CacheConfig, SecretsVaultConfig, site_identifier

from ._adapters import AdapterBinding
from ._common import ConfigModel, ConstructorSpec, Identifier, ModulePrefix
from ._errors import ConfigIssue
from ._operations import OperationConfig
from ._provision import ProvisionConfig

__all__ = [
    "OPERATION_KEY_PREFIX",
    "CacheConfig",
    "FederationConfig",
    "FederationInfo",
    "ProviderConfig",
    "SecretsVaultConfig",
    "SendCost",
    "SiteConfig",
    "site_identifier",
]

#: Interface keys are written ``#/operations/<operation name>``.
OPERATION_KEY_PREFIX = "#/operations/"


def _strip_operation_keys(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    prefix = OPERATION_KEY_PREFIX
    return {(k.removeprefix(prefix) if isinstance(k, str) else k): v for k, v in value.items()}


#: An interface: operation name → binding. YAML keys ``#/operations/<op>`` are
#: stored as ``<op>``.
Interface = Annotated[dict[str, AdapterBinding], BeforeValidator(_strip_operation_keys)]


class SendCost(ConfigModel):
    """Cost of sending data from this site to another.

    Attributes:
        fixed_time: Seconds per transfer (>= 0).
        bandwidth: Bytes per second (> 0); None means size does not matter.
    """

    fixed_time: float = Field(0.0, ge=0, allow_inf_nan=False)
    bandwidth: int | None = Field(None, gt=0)


def _module_list(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            f"expected a list of module prefixes like [mypkg, other.models], got {value!r}"
        )
    return value


def _no_duplicates(value: list[str]) -> list[str]:
    seen: set[str] = set()
    for prefix in value:
        if prefix in seen:
            raise ValueError(f"{prefix!r} is listed twice")
        seen.add(prefix)
    return value


#: ``allow-modules``: module prefixes, each once.
ModuleList = Annotated[
    list[ModulePrefix], BeforeValidator(_module_list), AfterValidator(_no_duplicates)
]


class ProviderConfig(ConfigModel):
    """A named group of operations on a site.

    Attributes:
        info: Free documentation.
        impl: Base class of the generated provider class (default
            ``dfm.runtime.Provider``) and its constructor args.
        interface: Operation name → adapter binding.
    """

    info: dict[str, Any] | None = None
    impl: ConstructorSpec | None = None
    interface: Interface = Field(default_factory=dict)

    _origin: ConfigIssue | None = PrivateAttr(default=None)

    @property
    def origin(self) -> ConfigIssue | None:
        """Where this is written (file, path there, note), when it was loaded."""
        return self._origin

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are, wherever it is written."""
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = ConfigModel.__hash__


class SiteConfig(ConfigModel):
    """One site of the federation.

    Attributes:
        info: Free documentation.
        impl: Base class of the generated ``ThisSite`` (default ``dfm.runtime.Site``)
            and its constructor args.
        cache_config: The site's cache location; None means the runtime default.
        secrets_vault: The secrets vault; None means the runtime default.
        interface: Operation name → adapter binding (operations without provider).
        providers: Provider name → provider.
        send_cost: Target site → transfer cost (keys as written; fed_info.json reduces
            them to site identifiers).
        allow_pickle: The site unpickles values it receives (``allow-pickle``; off by
            default: a pickle runs whatever code its sender chose).
        allow_modules: Module prefixes whose pydantic models the site builds from
            values it receives (``allow-modules``), besides ``dfm`` and the
            federation's generated schema models.
    """

    info: dict[str, Any] | None = None
    impl: ConstructorSpec | None = None
    cache_config: CacheConfig | None = None
    secrets_vault: SecretsVaultConfig | None = None
    interface: Interface = Field(default_factory=dict)
    providers: dict[Identifier, ProviderConfig] = Field(default_factory=dict)
    send_cost: dict[str, SendCost] = Field(default_factory=dict)
    allow_pickle: bool = Field(False, alias="allow-pickle")
    allow_modules: ModuleList = Field(default_factory=list, alias="allow-modules")

    _origin: ConfigIssue | None = PrivateAttr(default=None)

    @property
    def origin(self) -> ConfigIssue | None:
        """Where this is written (file, path there, note), when it was loaded."""
        return self._origin

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are, wherever it is written."""
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = ConfigModel.__hash__


def _not_dfm(value: str) -> str:
    if value == "dfm":
        raise ValueError("'dfm' is the namespace of DFM itself; choose another code-package")
    return value


class FederationInfo(ConfigModel):
    """``info:``; unknown keys are allowed (and ignored).

    Attributes:
        api_version: ``X.Y.Z``; becomes ``API_VERSION`` of the generated package.
        code_package: Root package of the generated code and the federation name.
        description: Free text.
    """

    model_config = ConfigDict(extra="allow")

    api_version: str = Field(alias="api-version", pattern=r"^\d+\.\d+\.\d+$")
    code_package: Annotated[Identifier, AfterValidator(_not_dfm)] = Field(alias="code-package")
    description: str | None = None


class FederationConfig(ConfigModel):
    """A whole ``*.dfm.yaml`` with every ``$ref`` resolved.

    Build it with `load_federation_config` (which resolves references and reports
    every mistake at once); validating a dict directly works for configs without
    references.

    Attributes:
        dfm: Format version, always ``"1.0.0"``.
        info: Federation name, API version, description.
        provision: Deployment metadata.
        schemas: Schema name → JSON-Schema object (nested references to declared
            schemas are ``{"$ref": "#/schemas/<name>"}``, others are inlined).
        operations: Operation name → operation.
        sites: Site key → site (the identifier is the part before ``@``).
    """

    dfm: Literal["1.0.0"]
    info: FederationInfo
    provision: ProvisionConfig | None = None
    schemas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    operations: dict[str, OperationConfig] = Field(default_factory=dict)
    sites: dict[str, SiteConfig] = Field(default_factory=dict)

    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def code_package(self) -> str:
        """The root package of the generated code (the federation name)."""
        return self.info.code_package

    @property
    def source_file(self) -> Path | None:
        """The file this config was loaded from, if any."""
        return self._source_file

    def site_ids(self) -> dict[str, str]:
        """Map each site identifier to its key under ``sites:``.

        Returns:
            ``{identifier: key}`` in declaration order.
        """
        return {site_identifier(key): key for key in self.sites}
