"""Secrets for adapters: the environment-variable vault and how to configure another."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

_logger = logging.getLogger("dfm.runtime")


class SecretsVault:
    """Secrets from environment variables: key ``api_key`` → ``$DFM_SECRET_API_KEY``.

    Subclass it and override :meth:`secret_for_key` for another store; name the subclass
    in the site's ``SecretsVaultConfig``.

    Args:
        prefix: Prepended to the key; the variable name is upper-cased.
    """

    def __init__(self, prefix: str = "DFM_SECRET_") -> None:
        """Create a vault reading variables named ``prefix + key``, upper-cased."""
        self.prefix = prefix

    def env_var(self, key: str) -> str:
        """The environment variable holding ``key``."""
        return (self.prefix + key).upper()

    def secret_for_key(self, key: str) -> str:
        """The secret stored under ``key``.

        Raises:
            ValueError: No such secret (the message names the variable to set).
        """
        name = self.env_var(key)
        value = os.environ.get(name)
        if value is None:
            raise ValueError(f"Secret {key!r} is not set: set the environment variable {name}")
        return value


@dataclass(frozen=True)
class SecretsVaultConfig:
    """Which vault a site uses.

    Attributes:
        path: Import path of a :class:`SecretsVault` subclass, ``"pkg.mod.Class"`` or
            ``"pkg.mod:Class"``; None for the environment-variable vault.
        args: Keyword arguments for its constructor.
    """

    path: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def create(self) -> SecretsVault:
        """Build the vault; on any failure log the error and use the env-var vault."""
        if self.path is None:
            try:
                return SecretsVault(**self.args)
            except Exception:
                _logger.exception("Cannot create the secrets vault with args %r", self.args)
                return SecretsVault()
        try:
            module_name, sep, class_name = self.path.partition(":")
            if not sep:
                module_name, _, class_name = self.path.rpartition(".")
            cls = getattr(importlib.import_module(module_name), class_name)
            vault = cls(**self.args)
            if not callable(getattr(vault, "secret_for_key", None)):
                raise TypeError(f"{self.path} has no secret_for_key method")
            return vault  # type: ignore[no-any-return]
        except Exception:
            _logger.exception(
                "Cannot create the secrets vault %r; falling back to environment variables "
                "(DFM_SECRET_<KEY>)",
                self.path,
            )
            return SecretsVault()
