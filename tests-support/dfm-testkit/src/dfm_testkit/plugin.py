"""The pytest plugin: time bounds, a private cache folder, async tests, recorders."""

from __future__ import annotations

import asyncio
import faulthandler
import inspect
from collections.abc import Iterator

import pytest

from ._recorder import Recorder

DEFAULT_TIME_LIMIT = 120.0


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (unknown markers are errors under ``filterwarnings = error``)."""
    config.addinivalue_line(
        "markers",
        "time_limit(seconds): end the run with every stack dumped if this test runs "
        f"longer (default {DEFAULT_TIME_LIMIT:g} s)",
    )


@pytest.fixture(autouse=True)
def _bounded_in_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """A hung test dumps all stacks and ends the run instead of stalling it."""
    marker = request.node.get_closest_marker("time_limit")
    seconds = float(marker.args[0]) if marker is not None else DEFAULT_TIME_LIMIT
    faulthandler.dump_traceback_later(seconds, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session", autouse=True)
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """DFM's caches (XDG_CACHE_HOME) go to the run's temp folder, never to ~/.cache.

    Session-scoped, so that it is set before any other fixture starts processes.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no pytest-asyncio needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


@pytest.fixture
def recorder() -> Recorder:
    """A fresh recording callback."""
    return Recorder()


@pytest.fixture
def new_recorder() -> type[Recorder]:
    """The Recorder class, for tests that need several."""
    return Recorder
