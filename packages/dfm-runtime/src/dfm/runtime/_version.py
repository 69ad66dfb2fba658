"""The installed version of dfm-runtime (the instrumentation scope's version)."""

from __future__ import annotations

import functools


@functools.cache
def runtime_version() -> str:
    """``dfm-runtime``'s version, or ``"unknown"`` when it is not installed as a distribution."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dfm-runtime")
    except PackageNotFoundError:
        return "unknown"
