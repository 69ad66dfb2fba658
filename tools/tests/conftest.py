"""Fixtures for the repository tools: a small fake workspace in a temp dir."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "{name}"
dynamic = ["version"]
description = "Fake {name}."
requires-python = ">=3.11"
dependencies = [{deps}]

[tool.hatch.version]
path = "../../VERSION"
pattern = "(?P<version>.+)"

[tool.hatch.build.targets.wheel]
packages = ["src/dfm"]
"""

# (distribution, leaf module path under src/dfm, dependencies)
FAKE_PACKAGES = [
    ("dfm-a", "a", ['"pydantic>=2"']),
    ("dfm-b", "b", ['"dfm-a==0.1.0"', '"pyyaml>=6"']),
    ("dfm-target-c", "targets/c", ['"dfm-b==0.1.0"']),
]

PLUGIN_PYPROJECT = """\
[project]
name = "acme-dfm-target"
version = "1.0.0"
# a third-party plugin: a ranged dependency, and one exact pin
dependencies = [
  "dfm-b>=0.1,<0.2",
  "dfm-a==0.1.0",
]
"""


META_PYPROJECT = """\
[project]
name = "dfm-all"
dynamic = ["version"]
dependencies = [{deps}]

[tool.hatch.version]
path = "../../VERSION"
pattern = "(?P<version>.+)"

[tool.hatch.build.targets.wheel]
bypass-selection = true
"""


def write_meta_package(root: Path, names: list[str]) -> Path:
    meta = root / "packages" / "dfm-all"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "README.md").write_text("# dfm-all\n")
    deps = ", ".join(f'"{n}==0.1.0"' for n in names)
    (meta / "pyproject.toml").write_text(META_PYPROJECT.format(deps=deps))
    return meta


def write_package(root: Path, name: str, leaf: str, deps: list[str]) -> Path:
    pkg = root / "packages" / name
    leaf_dir = pkg / "src" / "dfm" / leaf
    leaf_dir.mkdir(parents=True)
    (leaf_dir / "__init__.py").write_text('"""Fake."""\n')
    (leaf_dir / "py.typed").write_text("")
    (pkg / "tests").mkdir()
    (pkg / "tests" / "test_it.py").write_text("def test_it():\n    pass\n")
    (pkg / "README.md").write_text(f"# {name}\n")
    (pkg / "pyproject.toml").write_text(PYPROJECT.format(name=name, deps=", ".join(deps)))
    return pkg


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A valid fake workspace: VERSION 0.1.0, three packages, dfm-all, one third-party plugin."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "VERSION").write_text("0.1.0\n")
    for name, leaf, deps in FAKE_PACKAGES:
        write_package(root, name, leaf, deps)
    write_meta_package(root, [name for name, _, _ in FAKE_PACKAGES])
    plugin = root / "tests-integration" / "plugins" / "acme"
    plugin.mkdir(parents=True)
    (plugin / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    return root


@pytest.fixture
def add_package(repo: Path) -> Callable[[str, str, list[str]], Path]:
    """Add a valid package to the fake workspace: add_package(name, leaf, deps)."""
    return lambda name, leaf, deps: write_package(repo, name, leaf, deps)


@pytest.fixture
def set_meta(repo: Path) -> Callable[[list[str]], Path]:
    """Rewrite the fake dfm-all to pin exactly these distributions: set_meta(names)."""
    return lambda names: write_meta_package(repo, names)
