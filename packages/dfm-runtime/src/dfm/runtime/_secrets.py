"""Secrets for adapters: the environment-variable vault and how to configure another."""

from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import dataclass, field
from typing import Any


class SecretsVaultError(ValueError):
    """A site's secrets vault cannot be created; the message says which and why."""


def _cause(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


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
        """Build the vault.

        There is no fall back to environment variables: a site whose configured vault
        is broken must not run adapters with secrets from somewhere else.

        Raises:
            SecretsVaultError: The class cannot be found or built, or has no
                ``secret_for_key`` method; the message names the vault and the cause.
        """
        name = repr(self.path) if self.path is not None else "(environment variables)"
        with_args = f" with args {self.args!r}" if self.args else ""
        what = f"Cannot create the secrets vault {name}{with_args}"
        if self.path is None:
            cls: Any = SecretsVault
        else:
            module_name, sep, class_name = self.path.partition(":")
            if not sep:
                module_name, _, class_name = self.path.rpartition(".")
            if not module_name or not class_name:
                raise SecretsVaultError(
                    f"{what}: {self.path!r} is not a 'module.Class' path; fix secrets_vault "
                    "of the site in the federation config"
                )
            try:
                module = importlib.import_module(module_name)
            except Exception as e:
                raise SecretsVaultError(f"{what}: {_cause(e)}") from e
            cls = getattr(module, class_name, None)
            if cls is None:
                raise SecretsVaultError(
                    f"{what}: module {module_name!r} has no class {class_name!r}"
                )
        try:
            vault = cls(**self.args)
        except Exception as e:
            raise SecretsVaultError(f"{what}: {_cause(e)}") from e
        if not callable(getattr(vault, "secret_for_key", None)):
            raise SecretsVaultError(f"{what}: {self.path!r} has no secret_for_key method")
        return vault  # type: ignore[no-any-return]
