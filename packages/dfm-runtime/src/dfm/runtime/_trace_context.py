"""W3C trace context headers written and read directly for the common case.

``TraceContextTextMapPropagator`` costs tens of µs per call here (its regex, a
``TraceState`` parse, context look-ups), paid twice per site run of every job. A
``traceparent`` of version ``00`` without ``tracestate`` is what DFM itself sends, so
that case is formatted and parsed here; anything else (a ``tracestate``, another
version) goes to the propagator, which knows the whole specification.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_PROPAGATOR = TraceContextTextMapPropagator()


def inject() -> dict[str, str]:
    """The current span's headers (empty without a current span)."""
    context = trace.get_current_span().get_span_context()
    if context == trace.INVALID_SPAN_CONTEXT:  # the propagator's test, kept to agree with it
        return {}
    if context.trace_state:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier
    flags = context.trace_flags & 0xFF
    return {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"}


def extract(carrier: dict[str, str]) -> Any:
    """The context whose current span is the remote parent the headers name.

    Args:
        carrier: Cleaned headers (string values, ``traceparent`` present).

    Returns:
        An OpenTelemetry context; without a valid parent, the current one unchanged
        (as the propagator returns it).
    """
    found = None if "tracestate" in carrier else _VERSION_00.fullmatch(carrier["traceparent"])
    if found is None:
        return _PROPAGATOR.extract(carrier)
    trace_id, span_id = int(found[1], 16), int(found[2], 16)
    if not trace_id or not span_id:
        return _PROPAGATOR.extract(carrier)  # invalid ids: the propagator ignores them
    parent = trace.SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(int(found[3], 16))
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))
