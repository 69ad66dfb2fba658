"""Switching DFM's telemetry on: the ``dfm.telemetry`` entry point, found without importing it.

The runtime never imports the SDK side. ``dfm-telemetry`` registers a function under the
entry-point group ``dfm.telemetry`` (name ``sdk``); :func:`start_telemetry` loads it when
telemetry is asked for (``DFM_TELEMETRY=1`` or a Session argument). Without dfm-telemetry
installed, asking for telemetry logs one warning and everything runs without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Literal

from . import _telemetry

ENTRY_POINT_GROUP = "dfm.telemetry"
ENTRY_POINT_NAME = "sdk"
ENV_SWITCH = "DFM_TELEMETRY"
_LEGACY_SWITCH = "DFM_TELEMETRY_ENABLED"  # nv-dfm-core's name
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

Role = Literal["application", "site"]

_log = logging.getLogger("dfm.runtime.telemetry")
_warned = False


def telemetry_requested(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for DFM telemetry.

    ``DFM_TELEMETRY`` (or nv-dfm-core's ``DFM_TELEMETRY_ENABLED``) is one of ``1``,
    ``true``, ``yes``, ``on``, and ``OTEL_SDK_DISABLED`` is not ``true``.

    Raises:
        ValueError: ``DFM_TELEMETRY`` has a value that is neither true nor false.
    """
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    for name in (ENV_SWITCH, _LEGACY_SWITCH):
        value = env.get(name, "").strip().lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            raise ValueError(
                f"{name}={env[name]!r} is not understood; use 1 (or true, yes, on) to switch "
                "DFM telemetry on, 0 (or false, no, off) to keep it off"
            )
    return False


def start_telemetry(
    role: Role,
    *,
    site: str | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> bool:
    """Switch DFM's instrumentation on in this process through dfm-telemetry.

    Idempotent: once on, later calls return True and change nothing.

    Args:
        role: ``"application"``: DFM is a library in the user's process and uses the
            application's providers if it set any (else private ones, never replacing
            the global ones). ``"site"``: DFM owns the process (a site process it
            started) and configures the SDK from the ``OTEL_*`` variables.
        site: The site this process runs (``"site"`` role).
        tracer_provider: Use this tracer provider (application role).
        meter_provider: Use this meter provider (application role).

    Returns:
        Whether telemetry is on; False when dfm-telemetry is not installed (logged
        once) or the SDK is disabled (``OTEL_SDK_DISABLED=true``).
    """
    global _warned
    if _telemetry.ENABLED:
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == ENTRY_POINT_NAME]
    if not found:
        if not _warned:
            _warned = True
            _log.warning(
                "DFM telemetry was asked for, but dfm-telemetry is not installed: "
                "pip install dfm-telemetry (it stays off)"
            )
        return False
    setup = found[0].load()
    setup(role=role, site=site, tracer_provider=tracer_provider, meter_provider=meter_provider)
    return _telemetry.ENABLED


def shutdown_telemetry(timeout: float = 2.0) -> None:
    """Flush what is pending and switch DFM's instrumentation off (bounded)."""
    backend = _telemetry.backend()
    _telemetry.disable()
    if backend is not None:
        backend.shutdown(timeout)


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The environment for a site process DFM starts: telemetry on there iff it is here.

    Returns:
        None (inherit) when this process's environment already says the same.
    """
    env = os.environ if env is None else env
    asked = telemetry_requested(env)
    if _telemetry.ENABLED == asked:
        return None
    child = dict(env)
    child[ENV_SWITCH] = "1" if _telemetry.ENABLED else "0"
    child.pop(_LEGACY_SWITCH, None)
    if _telemetry.TRANSITION_SPANS:
        child["DFM_TELEMETRY_TRANSITION_SPANS"] = "1"
    return child
