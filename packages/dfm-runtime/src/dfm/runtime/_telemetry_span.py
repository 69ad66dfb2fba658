"""``Site.telemetry_span``: spans around adapter work, for ``with`` and ``async with``.

Generated code opens one around every adapter call (its attributes name
``dfm.operation``); users open their own inside adapters. While telemetry is off the
scope is one shared ``nullcontext``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from . import _telemetry

if TYPE_CHECKING:
    from opentelemetry.trace import Span

ADAPTER_OPERATION_KEY = "dfm.operation"
"""A ``telemetry_span`` whose attributes name this key is an adapter call (generated code)."""

_NULL_SCOPE = contextlib.nullcontext()


class TelemetrySpan(Protocol):
    """What ``Site.telemetry_span`` returns: a context manager for ``with`` and ``async with``.

    Entering yields the OpenTelemetry span, or None while telemetry is off.
    """

    def __enter__(self) -> Any:
        """Start the span."""

    def __exit__(self, kind: Any, error: Any, tb: Any, /) -> Any:
        """End the span."""

    async def __aenter__(self) -> Any:
        """Start the span."""

    async def __aexit__(self, kind: Any, error: Any, tb: Any, /) -> Any:
        """End the span."""


def span_scope(site: Any, name: str, attributes: Mapping[str, Any] | None) -> TelemetrySpan:
    """What ``Site.telemetry_span`` returns: a no-op while telemetry is off."""
    if not _telemetry.ENABLED:
        return _NULL_SCOPE
    return SpanScope(site.site_name, name, attributes)


class SpanScope:
    """A span around adapter work, as ``with`` or ``async with``; yields the span.

    An adapter call (attributes with ``dfm.operation``, as generated code opens them)
    also gets the job, the frame and its outcome, and is measured in
    ``dfm.adapter.duration``; past the site run's span limit it is measured only.
    """

    __slots__ = ("_site", "_name", "_attributes", "_span", "_token", "_operation", "_start")

    def __init__(self, site: str, name: str, attributes: Mapping[str, Any] | None) -> None:
        """Nothing starts before the scope is entered."""
        self._site = site
        self._name = name
        self._attributes = attributes
        self._span: Span | None = None
        self._token: object = None
        self._operation: str | None = None
        self._start = 0.0

    def __enter__(self) -> Span | None:
        """Start the span and make it current."""
        state = _telemetry.STATE
        if state is None:
            return None
        given = self._attributes
        operation = given.get(ADAPTER_OPERATION_KEY) if given else None
        run = None
        if operation is not None:
            self._operation = str(operation)
            run = _telemetry.RUN.get()
            if run is not None and not run.take_adapter_span():  # measured only
                self._start = time.perf_counter()
                return None
        attributes = dict(given) if given else {}
        if run is not None:
            attributes.setdefault("dfm.site", run.site)
            attributes["dfm.job.id"] = run.job_id
            frame = _telemetry.FRAME.get()
            if frame is not None:
                attributes["dfm.frame"] = str(frame)
        span = state.tracer.start_span(self._name, attributes=attributes)
        self._token = state.attach_span(span)
        self._span = span
        self._start = time.perf_counter()
        return span

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> Literal[False]:
        """Record the outcome, end the span; exceptions propagate."""
        seconds = time.perf_counter() - self._start
        state = _telemetry.STATE
        operation = self._operation
        outcome = "ok"
        if error is not None:
            outcome = "error" if isinstance(error, Exception) else "cancelled"
        if state is not None and operation is not None:
            histogram = state.adapter_duration
            if histogram is None:
                key = (operation, self._site, outcome)
                with _telemetry.ADAPTER_LOCK:
                    calls = _telemetry.ADAPTER_CALLS.get(key)
                    if calls is None:
                        calls = _telemetry.ADAPTER_CALLS[key] = _telemetry.DurationHistogram()
                    calls.add(seconds)
            else:
                histogram.record(
                    seconds,
                    state.attributes(
                        "dfm.operation", operation, "dfm.site", self._site, "dfm.outcome", outcome
                    ),
                )
            if outcome == "error":
                state.errors.add(
                    1,
                    state.attributes(
                        "dfm.operation",
                        operation,
                        "dfm.site",
                        self._site,
                        "error.type",
                        type(error).__name__,
                    ),
                )
        span = self._span
        if span is not None:
            self._span = None
            if operation is not None:
                span.set_attribute("dfm.outcome", outcome)
            if error is not None and outcome == "error":
                _telemetry.record_error(span, error)
            if state is not None:
                state.detach(self._token)
            else:  # telemetry was switched off during the call
                from opentelemetry import context

                context.detach(self._token)  # type: ignore[arg-type]
            span.end()
        return False

    async def __aenter__(self) -> Span | None:
        """As ``with``."""
        return self.__enter__()

    async def __aexit__(self, kind: Any, error: BaseException | None, tb: Any) -> Literal[False]:
        """As ``with``."""
        return self.__exit__(kind, error, tb)
