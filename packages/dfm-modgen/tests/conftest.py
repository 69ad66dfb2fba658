"""Shared helpers: fixture configs, generating into tmp dirs, importing the result."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parents[2]
BUNDLED_FIXTURES = TESTS / "data" / "fixtures"
FIXTURE_NAMES = ("examplefed", "testpkg", "weatherfed")
FIXTURE_FILES = {
    "examplefed": "examplefed/federation.dfm.yaml",
    "testpkg": "testpkg/testpkg.dfm.yaml",
    "weatherfed": "weatherfed/federation.dfm.yaml",
}


def shared_fixtures() -> Path | None:
    """The shared fixture configs of the workspace, if present.

    ``DFM_SHARED_FIXTURES`` (the ``fixtures`` folder or its ``configs`` folder) wins;
    otherwise ``<repo>/../shared/fixtures/configs``.
    """
    env = os.environ.get("DFM_SHARED_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "fixtures")
    for base in candidates:
        for root in (base / "configs", base):
            if (root / "examplefed").is_dir():
                return root
    return None


@pytest.fixture
def fixtures() -> Path:
    """The bundled copy of the fixture configs (always present)."""
    return BUNDLED_FIXTURES


@pytest.fixture(name="shared_fixtures")
def _shared_fixtures() -> Path | None:
    """The shared fixture configs, or None when this checkout has none."""
    return shared_fixtures()


TESTPKG_LIB = {
    "__init__.py": "",
    "custom_types.py": """
        from pydantic import BaseModel

        class CustomModel(BaseModel):
            when: str = "now"
        """,
}

EXAMPLEFED_LIB = {
    "__init__.py": "",
    "customer_service.py": """
        class GreetMe:
            async def body(self, name: str, greet_fmt: str) -> str:
                return greet_fmt.format(name=name)

        class GreetMeReception:
            def __init__(self, site=None):
                self.site = site

            async def body(self, name: str, venue: str) -> str:
                return f"Good day, {name}. Welcome to {venue}."
        """,
}


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write dedented files under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture(name="write_files")
def _write_files() -> Callable[[Path, dict[str, str]], None]:
    """``write_files(root, {rel: text})`` writes dedented files."""
    return write_tree


@pytest.fixture
def stand_ins() -> Callable[[Path, str], None]:
    """``stand_ins(output, package)`` writes the user code a fixture federation names.

    The fixture configs refer to classes their authors supply (``testpkg.lib...``,
    ``examplefed.lib...``); these small stand-ins go to ``<output>/<package>/lib``,
    beside the generated ``fed/``.
    """
    libs = {"testpkg": TESTPKG_LIB, "examplefed": EXAMPLEFED_LIB}

    def write(output: Path, package: str) -> None:
        write_tree(output / package / "lib", libs[package])

    return write


def _purge(top: str) -> None:
    for name in list(sys.modules):
        if name == top or name.startswith(f"{top}."):
            del sys.modules[name]


@pytest.fixture
def import_generated(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Path, str], ModuleType]]:
    """Import a module of a package generated under some output folder.

    Each generated top-level package is forgotten again after the test, so tests
    that generate the same federation do not see each other's modules.
    """
    tops: set[str] = set()

    def load(output: Path, module: str) -> ModuleType:
        top = module.split(".")[0]
        if top not in tops:
            _purge(top)
            tops.add(top)
        monkeypatch.syspath_prepend(str(output))
        importlib.invalidate_caches()
        return importlib.import_module(module)

    yield load
    for top in tops:
        _purge(top)
