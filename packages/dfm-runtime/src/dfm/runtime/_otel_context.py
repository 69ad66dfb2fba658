"""The OpenTelemetry context operations of DFM's hooks, done on the runtime context's ContextVar.

Through the API, making a span current (``attach(set_span_in_context(span))``) is six
Python calls (``set_value`` reads the current context through ``get_current`` and the
runtime context's wrapper, then ``attach`` goes through that wrapper again), and
reading the current span is four; a warm job does five such operations on threads
where every call is cold. With the API's default runtime context
(``ContextVarsRuntimeContext``, ``OTEL_PYTHON_CONTEXT`` unset) the same operations are
done on its ContextVar directly: the same ``Context`` objects, the same tokens, so they
mix freely with the API's. Any other runtime context is used through the API.

Imported only once telemetry is on (it imports OpenTelemetry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY

_log = logging.getLogger("dfm.telemetry")


class ContextOps(NamedTuple):
    """Context operations, each what the API function named in its field's doc does."""

    attach_span: Callable[[trace.Span], object]
    """``attach(set_span_in_context(span))``: the token to detach."""
    detach: Callable[[Any], None]
    """``detach(token)``: failures logged, never raised."""
    current_span: Callable[[], trace.Span]
    """``get_current_span()``."""
    current_context: Callable[[], otel_context.Context]
    """``get_current()``."""


def _api_ops() -> ContextOps:
    def attach_span(span: trace.Span) -> object:
        return otel_context.attach(trace.set_span_in_context(span))

    return ContextOps(
        attach_span, otel_context.detach, trace.get_current_span, otel_context.get_current
    )


def context_ops() -> ContextOps:
    """The operations for the runtime context in use (checked now: it is set at import)."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is not ContextVarsRuntimeContext or type(var) is not ContextVar:
        return _api_ops()
    get, set_, reset = var.get, var.set, var.reset
    new_context = otel_context.Context
    invalid = trace.INVALID_SPAN
    span_type = trace.Span

    def attach_span(span: trace.Span) -> object:
        return set_(new_context({**get(), _SPAN_KEY: span}))

    def detach(token: Any) -> None:
        try:
            reset(token)
        except Exception:  # as the API does: a bad token never breaks the caller
            _log.exception("Failed to detach context")

    def current_span() -> trace.Span:
        span = get().get(_SPAN_KEY)
        return span if span is not None and isinstance(span, span_type) else invalid

    return ContextOps(attach_span, detach, current_span, get)
