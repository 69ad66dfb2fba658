"""Where a site keeps its cache and which vault serves its secrets: the data of both.

The federation config (``dfm.modgen.config``) reads them from YAML, the generated site
code writes them out, and the runtime (``dfm.runtime.Site``) uses them; they are defined
once, here, the lowest layer all three share.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class CacheConfig(BaseModel):
    """fsspec location of a site's cache (``Site.cache_storage()``).

    Attributes:
        protocol: ``"file"`` (the default) for the local filesystem; anything else
            (``s3``, ``memory`` ...) needs ``universal-pathlib`` (fsspec) installed.
        storage_options: Options for the fsspec filesystem.
        base_path: The cache root; None: ``<user cache dir>/dfm/<federation>/cache``
            (the user cache dir is ``$XDG_CACHE_HOME``, else ``~/.cache``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    protocol: str = "file"
    storage_options: dict[str, Any] = Field(default_factory=dict)
    base_path: str | None = None


def _class_path_problem(path: str) -> str | None:
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    parts = module.split(".") if module else []
    if not parts or not name.isidentifier() or not all(p.isidentifier() for p in parts):
        return (
            "must be 'module.Class' (the class and the module that defines it, like "
            f"'mypkg.vaults.Vault' or 'mypkg.vaults:Vault'), got {path!r}"
        )
    return None


class SecretsVaultConfig(BaseModel):
    """The vault that serves a site's secrets (``Site.secret_for_key()``).

    Attributes:
        path: Import path of the vault class, ``pkg.mod.Class`` or ``pkg.mod:Class``;
            None for the environment-variable vault.
        args: Keyword arguments for its constructor.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    path: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path_is_a_class_path(cls, value: str | None) -> str | None:
        if value is not None:
            problem = _class_path_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value
