"""``generate_federation``: a federation config → its Python package."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import FederationConfig, load_federation_config
from ._api_gen import ApiPackage
from ._layout import HEADER
from ._runtime_gen import runtime_files
from ._schema_gen import SchemaPackage
from ._source import docstring
from ._writer import write_tree

__all__ = [
    "GenerationReport",
    "generate_federation",
    "render_federation",
    "write_federation",
]


@dataclass
class GenerationReport:
    """What `write_federation` did.

    Attributes:
        package_dir: ``<output>/<code-package>``.
        files: Every generated file (the ``fed/`` tree, plus the package
            ``__init__.py`` when it was created).
        changed: Files created or rewritten.
        removed: Stale files deleted from ``fed/``.
    """

    package_dir: Path
    files: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def render_federation(config: FederationConfig) -> dict[str, str]:
    """Generate the ``fed/`` tree in memory.

    Args:
        config: The federation config.

    Returns:
        Path relative to ``<code-package>/fed`` → file content.

    Raises:
        GenerationError: When the config cannot be turned into a package.
    """
    fed = config.code_package
    files = {"__init__.py": docstring(f"Federation {fed!r}: generated code.\n\n{HEADER}", 0) + "\n"}
    schemas = SchemaPackage(config)
    files.update({f"schema/{path}": text for path, text in schemas.files().items()})
    files.update(ApiPackage(config, schemas).files())
    files.update(runtime_files(config))
    return dict(sorted(files.items()))


def _load(config: FederationConfig | str | os.PathLike[str]) -> FederationConfig:
    return config if isinstance(config, FederationConfig) else load_federation_config(config)


def write_federation(
    config: FederationConfig | str | os.PathLike[str], output_dir: str | os.PathLike[str]
) -> GenerationReport:
    """Generate ``<output_dir>/<code-package>/fed`` and report what changed.

    ``fed/`` is replaced wholesale (stale files vanish), but files whose content is
    unchanged are kept as they are, timestamps included. ``<code-package>/__init__.py``
    is written only when missing; nothing else beside ``fed/`` is touched.

    Args:
        config: The config, or the path of a ``*.dfm.yaml`` file to load.
        output_dir: The folder that holds (or will hold) the package.

    Returns:
        The report.

    Raises:
        ConfigError: When ``config`` is a path and the file has mistakes.
        GenerationError: When the config cannot be turned into a package.
    """
    loaded = _load(config)
    package_dir = Path(output_dir) / loaded.code_package
    tree = write_tree(package_dir / "fed", render_federation(loaded))
    report = GenerationReport(package_dir, tree.files, tree.changed, tree.removed)
    init = package_dir / "__init__.py"
    if not init.exists():
        summary = loaded.info.description or f"Federation {loaded.code_package!r}."
        init.write_text(docstring(summary, 0) + "\n", encoding="utf-8")
        report.files.insert(0, init)
        report.changed.insert(0, init)
    return report


def generate_federation(
    config: FederationConfig | str | os.PathLike[str], output_dir: str | os.PathLike[str]
) -> list[Path]:
    """Generate a federation's Python package from its config.

    Writes ``<output_dir>/<code-package>/fed/`` (``api``, ``site``, ``schema``,
    ``runtime``) as described in ``docs/config.md``; see `write_federation`.

    Args:
        config: The config, or the path of a ``*.dfm.yaml`` file to load.
        output_dir: The folder that holds (or will hold) the package.

    Returns:
        Every generated file.

    Raises:
        ConfigError: When ``config`` is a path and the file has mistakes.
        GenerationError: When the config cannot be turned into a package.
    """
    return write_federation(config, output_dir).files
