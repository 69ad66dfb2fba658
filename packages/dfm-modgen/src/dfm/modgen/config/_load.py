"""Loading a federation config from a file, a string or a dict."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._build_ops import build_operations, build_schemas
from ._build_sites import build_sites
from ._context import BuildContext
from ._documents import DocumentError, parse_text, read_document
from ._errors import ConfigError, ConfigIssue
from ._models import FederationConfig
from ._refs import Node, Resolver

__all__ = [
    "load_federation_config",
    "load_federation_config_from_dict",
    "load_federation_config_from_string",
]

_SECTIONS = ("schemas", "operations", "sites")


def load_federation_config(path: str | os.PathLike[str]) -> FederationConfig:
    """Load a ``*.dfm.yaml`` (or JSON) file, resolving every ``$ref``.

    Relative file references are looked up next to the file that holds them, then
    in the current working directory.

    Args:
        path: The config file.

    Returns:
        The validated config.

    Raises:
        ConfigError: Listing every mistake found (file, path in the config, what
            was expected).
    """
    file = Path(path).resolve()
    try:
        data = read_document(file)
    except DocumentError as exc:
        raise ConfigError([ConfigIssue(file, (), exc.message)]) from None
    return _load(data, file, file.parent)


def load_federation_config_from_string(
    text: str, *, base_dir: str | os.PathLike[str] | None = None
) -> FederationConfig:
    """Load a federation config from YAML or JSON text.

    Args:
        text: The document.
        base_dir: Directory for relative file references (default: the current
            working directory).

    Returns:
        The validated config.

    Raises:
        ConfigError: Listing every mistake found.
    """
    try:
        data = parse_text(text)
    except DocumentError as exc:
        raise ConfigError([ConfigIssue(None, (), exc.message)]) from None
    return _load(data, None, Path(base_dir or Path.cwd()).resolve())


def load_federation_config_from_dict(
    data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> FederationConfig:
    """Load a federation config from already-parsed data.

    Args:
        data: The parsed document.
        base_dir: Directory for relative file references (default: the current
            working directory).

    Returns:
        The validated config.

    Raises:
        ConfigError: Listing every mistake found.
    """
    return _load(dict(data), None, Path(base_dir or Path.cwd()).resolve())


def _load(data: Any, file: Path | None, base_dir: Path) -> FederationConfig:
    resolver = Resolver(data, file, base_dir, Path.cwd())
    ctx = BuildContext(resolver)
    root = resolver.root()
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue(file, (), f"a federation config must be a mapping, got {data!r:.60}")]
        )
    shell = {k: v for k, v in data.items() if k not in _SECTIONS}
    config = ctx.validate(FederationConfig, shell, root, ())

    def section(name: str) -> Node:
        return Node(data.get(name), root.src.child(name))

    schemas = build_schemas(ctx, section("schemas"))
    operations = build_operations(ctx, section("operations"))
    sites = build_sites(ctx, section("sites"))
    if ctx.issues or config is None:
        raise ConfigError(ctx.issues)
    config = config.model_copy(
        update={"schemas": schemas, "operations": operations, "sites": sites}
    )
    config._source_file = file
    return config
