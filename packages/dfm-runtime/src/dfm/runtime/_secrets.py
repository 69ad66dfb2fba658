"""Secrets for adapters: the environment-variable vault and how to configure another."""

from __future__ import annotations

import importlib
import os
import traceback
from typing import Any

from dfm.api import SecretsVaultConfig


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


def create_secrets_vault(config: SecretsVaultConfig) -> SecretsVault:
    """Build the vault a site's config names.

    There is no fall back to environment variables: a site whose configured vault is
    broken must not run adapters with secrets from somewhere else.

    Args:
        config: The vault class and its arguments (``path=None``: :class:`SecretsVault`).

    Raises:
        SecretsVaultError: The class cannot be found or built, or has no
            ``secret_for_key`` method; the message names the vault and the cause.
    """
    path, args = config.path, config.args
    name = repr(path) if path is not None else "(environment variables)"
    with_args = f" with args {args!r}" if args else ""
    what = f"Cannot create the secrets vault {name}{with_args}"
    if path is None:
        cls: Any = SecretsVault
    else:
        # SecretsVaultConfig checked the path: ``pkg.mod.Class`` or ``pkg.mod:Class``.
        module_name, sep, class_name = path.partition(":")
        if not sep:
            module_name, _, class_name = path.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except Exception as e:
            raise SecretsVaultError(f"{what}: {_cause(e)}") from e
        cls = getattr(module, class_name, None)
        if cls is None:
            raise SecretsVaultError(f"{what}: module {module_name!r} has no class {class_name!r}")
    try:
        vault = cls(**args)
    except Exception as e:
        raise SecretsVaultError(f"{what}: {_cause(e)}") from e
    if not callable(getattr(vault, "secret_for_key", None)):
        raise SecretsVaultError(f"{what}: {path!r} has no secret_for_key method")
    return vault  # type: ignore[no-any-return]
