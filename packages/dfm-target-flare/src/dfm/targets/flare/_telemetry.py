"""Telemetry of the FLARE site processes (NVFLARE job processes DFM's service runs in).

NVFLARE starts these processes, with the environment of the server or client that
started them (``dfm poc start`` passes its own): a site switches DFM's telemetry on when
``DFM_TELEMETRY`` asks for it there. The job's W3C trace context comes with each job's
creation; it is untrusted, and anything but a small dict of strings is dropped.
"""

from __future__ import annotations

import logging
from typing import Any

MAX_TRACE_HEADERS = 8
MAX_TRACE_VALUE = 512
SHUTDOWN_TIMEOUT = 1.0
"""Seconds a stopping site waits to flush its telemetry (a dead collector must not hold
NVFLARE's end of the job)."""


def start_site_telemetry(site: str, logger: logging.Logger) -> bool:
    """Switch telemetry on in this site process if its environment asks; whether it is on.

    A wrong ``DFM_TELEMETRY`` value is logged, never raised: it must not stop the site.
    """
    from dfm.runtime import start_telemetry, telemetry_requested

    try:
        if not telemetry_requested():
            return False
        return start_telemetry("site", site=site)
    except Exception:
        logger.exception("Site %s: cannot switch telemetry on; it runs without", site)
        return False


def stop_site_telemetry(logger: logging.Logger, timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Flush (bounded) and switch telemetry off; nothing happens if it was off."""
    from dfm.runtime import shutdown_telemetry

    try:
        shutdown_telemetry(timeout)
    except Exception:
        logger.exception("Stopping telemetry failed")


def trace_context_from(data: Any) -> dict[str, str] | None:
    """The trace context in a request (untrusted): a small dict of strings, else None."""
    if not isinstance(data, dict) or not data or len(data) > MAX_TRACE_HEADERS:
        return None
    if not all(
        isinstance(k, str) and isinstance(v, str) and len(k) + len(v) <= MAX_TRACE_VALUE
        for k, v in data.items()
    ):
        return None
    return dict(data)
