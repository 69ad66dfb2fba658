"""W3C trace context headers written and read directly for the common case.

``TraceContextTextMapPropagator`` costs tens of µs per call here (its regex, a
``TraceState`` parse, context look-ups), paid twice per site run of every job. A
``traceparent`` of version ``00`` without ``tracestate`` is what DFM itself sends, so
that case is formatted and parsed here; anything else (a ``tracestate``, another
version) goes to the propagator, which knows the whole specification.

Within one process no text is needed at all: :func:`inject` returns a
:class:`TraceParent`, the headers plus the context whose current span they name, and
``extract_context`` hands that context back as it is (a site run in a thread of the
application, the homesite on FLARE). Pickled or sent, a ``TraceParent`` is the plain
headers, so the other side of a process boundary parses them as usual.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_PROPAGATOR = TraceContextTextMapPropagator()
_ROOT = Context()  # a parent context holds its span only, as one extracted from headers
_DEFAULT_STATE = trace.DEFAULT_TRACE_STATE
_TRACEPARENT = "00-%032x-%016x-%02x"


class TraceParent(dict[str, str]):
    """W3C headers of a span, and for this process the context whose span they name.

    A plain ``dict`` to everything that reads it as one; only a ``TraceParent`` made in
    this process (never one decoded from bytes: pickled, it is a ``dict``) skips the
    parsing.
    """

    __slots__ = ("span", "span_context")
    span: trace.Span
    span_context: trace.SpanContext

    @property
    def context(self) -> Any:
        """An OpenTelemetry context whose current span is the parent (made when asked)."""
        return trace.set_span_in_context(self.span, _ROOT)

    def __reduce__(self) -> tuple[type[dict[str, str]], tuple[dict[str, str]]]:
        """Pickled or copied: the plain headers."""
        return dict, (dict(self),)


def inject(span: trace.Span) -> dict[str, str]:
    """The headers of ``span`` (the current one: empty for none), as a :class:`TraceParent`."""
    context = span.get_span_context()
    if context == trace.INVALID_SPAN_CONTEXT:  # the propagator's test, kept to agree with it
        return {}
    carrier = TraceParent()
    # A SpanContext is a tuple (trace id, span id, is remote, flags, trace state, ...);
    # its properties cost a Python call each.
    state = context[4]
    if state is not _DEFAULT_STATE and state:
        _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    else:
        carrier["traceparent"] = _TRACEPARENT % (context[0], context[1], context[3] & 0xFF)
    carrier.span = span
    carrier.span_context = context
    return carrier


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
