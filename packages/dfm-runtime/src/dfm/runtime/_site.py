"""Site and Provider: what adapters see of the runtime."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dfm.api import CacheConfig, SecretsVaultConfig

from ._context import DfmContext
from ._secrets import SecretsVault, create_secrets_vault
from ._telemetry_span import TelemetrySpan, span_scope


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


class Site:
    """Base of a federation's generated ``ThisSite``: one instance per job per site.

    Args:
        dfm_context: The job's context on this site.
        cache_config: Where :meth:`cache_storage` points.
        secrets_vault_config: Which vault :meth:`secret_for_key` reads.
        **impl_args: Arguments of a configured ``impl`` subclass, kept in ``impl_args``.
    """

    def __init__(
        self,
        dfm_context: DfmContext,
        cache_config: CacheConfig | None = None,
        secrets_vault_config: SecretsVaultConfig | None = None,
        **impl_args: Any,
    ) -> None:
        """Bind the site to the job's context."""
        self._dfm_context = dfm_context
        self._cache_config = cache_config if cache_config is not None else CacheConfig()
        config = secrets_vault_config if secrets_vault_config is not None else SecretsVaultConfig()
        self._vault: SecretsVault = create_secrets_vault(config)
        self._impl_args: Mapping[str, Any] = MappingProxyType(dict(impl_args))

    @property
    def dfm_context(self) -> DfmContext:
        """The job's context on this site."""
        return self._dfm_context

    @property
    def federation_name(self) -> str:
        """The federation this site belongs to."""
        return self._dfm_context.federation_name

    @property
    def api_version(self) -> str:
        """The federation API version of the running pipeline."""
        return self._dfm_context.api_version

    @property
    def site(self) -> Site:
        """The site itself (so code written for providers works on sites too)."""
        return self

    @property
    def cache_config(self) -> CacheConfig:
        """Where :meth:`cache_storage` points."""
        return self._cache_config

    @property
    def site_name(self) -> str:
        """This site's name."""
        return self._dfm_context.this_site

    @property
    def impl_args(self) -> Mapping[str, Any]:
        """The extra constructor arguments (read-only)."""
        return self._impl_args

    def secret_for_key(self, key: str) -> str:
        """A secret from the site's vault.

        Raises:
            ValueError: The secret is not set (the message says where to set it).
        """
        return self._vault.secret_for_key(key)

    def cache_storage(self, subpath: str | None = None) -> Path:
        """The site's cache directory (or a subdirectory of it), created if missing.

        Raises:
            ValueError: ``subpath`` leaves the cache root.
            NotADirectoryError: The path exists and is not a directory.
            RuntimeError: A non-file protocol without universal-pathlib installed.
        """
        config = self._cache_config
        if config.protocol != "file":
            return self._remote_cache(subpath)
        if config.base_path is not None:
            base = Path(config.base_path).expanduser()
        else:
            base = user_cache_dir() / "dfm" / self.federation_name / "cache"
        path = base / subpath if subpath else base
        if subpath and not path.resolve().is_relative_to(base.resolve()):
            raise ValueError(f"Cache subpath {subpath!r} leaves the cache root {base}")
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"Cache path {path} exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _remote_cache(self, subpath: str | None) -> Path:
        config = self._cache_config
        try:
            from upath import UPath  # type: ignore[import-not-found]
        except ImportError:
            raise RuntimeError(
                f"The cache of site {self.site_name!r} uses protocol {config.protocol!r}, which "
                "needs universal-pathlib: pip install universal-pathlib (and the fsspec "
                "backend for the protocol)"
            ) from None
        if config.base_path is None:
            raise ValueError(f"A {config.protocol!r} cache needs a base_path")
        base = UPath(config.base_path, protocol=config.protocol, **config.storage_options)
        path = base / subpath if subpath else base
        path.mkdir(parents=True, exist_ok=True)
        return path  # type: ignore[no-any-return]

    def telemetry_span(
        self, name: str, attributes: Mapping[str, Any] | None = None
    ) -> TelemetrySpan:
        """A span around adapter work, used as ``with`` or ``async with``.

        The span is a child of the current one (the adapter call, the site's run of the
        job) and part of the job's trace; an exception leaving the block sets its status
        to ERROR and is recorded on it. It yields the OpenTelemetry span (to add
        attributes or events), or None while telemetry is off, when it costs nothing.

        Args:
            name: The span's name (low cardinality: no ids in it).
            attributes: The span's attributes.
        """
        return span_scope(self, name, attributes)


class Provider:
    """Base of a federation's generated provider classes (attributes of ``ThisSite``).

    Args:
        site: The site the provider belongs to.
        **impl_args: Arguments of a configured provider implementation.
    """

    def __init__(self, site: Site, **impl_args: Any) -> None:
        """Bind the provider to its site."""
        self._site = site
        self._impl_args: Mapping[str, Any] = MappingProxyType(dict(impl_args))

    @property
    def site(self) -> Site:
        """The site this provider belongs to."""
        return self._site

    @property
    def dfm_context(self) -> DfmContext:
        """The job's context on the provider's site."""
        return self._site.dfm_context

    @property
    def impl_args(self) -> Mapping[str, Any]:
        """The extra constructor arguments (read-only)."""
        return self._impl_args
