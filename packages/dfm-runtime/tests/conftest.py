"""Fixtures: a fake federation package on sys.path; runtime_testkit importable.

(Async tests, time bounds and the cache folder come from the dfm-testkit pytest plugin.)
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


SITE_HEADER = """\
import asyncio
import threading
from dfm.runtime import Provider, Site

API_VERSION = {api_version!r}
"""


@pytest.fixture
def make_federation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., str]]:
    """Write ``<pkg>/fed/runtime/<site>/__init__.py`` per site; returns the package name.

    Each site's source is the header (imports, ``API_VERSION``) plus the given text,
    which must define ``class ThisSite(Site)``.
    """
    made: list[str] = []

    def make(sites: dict[str, str], api_version: str = "1.0") -> str:
        name = f"fakefed_{uuid.uuid4().hex[:8]}"
        root = tmp_path / "fedpkgs"
        runtime = root / name / "fed" / "runtime"
        for package in (root / name, root / name / "fed", runtime):
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text("")
        for site, source in sites.items():
            (runtime / site).mkdir()
            text = SITE_HEADER.format(api_version=api_version) + textwrap.dedent(source)
            (runtime / site / "__init__.py").write_text(text)
        monkeypatch.syspath_prepend(str(root))
        made.append(name)
        return name

    yield make
    for mod in [m for m in sys.modules if any(m.split(".")[0] == n for n in made)]:
        del sys.modules[mod]
