"""The FLARE target's per-job options (``execute(..., options={...})``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODES = ("service", "per-job")
"""How a DFM job runs: in the federation's service job, or in an NVFLARE job of its own."""
JOB_OPTIONS = ("mode",)
"""The options a job accepts."""


def job_mode(options: Any, default: str) -> str:
    """The mode a job's ``options`` ask for (``default`` if they name none).

    Raises:
        TypeError: The options are not a dict, or name an unknown option.
        ValueError: The mode is not one of :data:`MODES`.
    """
    if options is None:
        return default
    if not isinstance(options, Mapping):
        raise TypeError(f"flare target options must be a dict, not {type(options).__name__}")
    unknown = sorted(set(options) - set(JOB_OPTIONS))
    if unknown:
        raise TypeError(
            f"Unknown flare job option(s) {', '.join(unknown)}; accepted: {', '.join(JOB_OPTIONS)}"
        )
    mode = options.get("mode", default)
    if mode not in MODES:
        raise ValueError(f"flare job option mode must be one of {MODES}, not {mode!r}")
    return str(mode)
