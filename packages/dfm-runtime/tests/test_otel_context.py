"""DFM's context operations do what the OpenTelemetry API's do, and mix with them."""

from __future__ import annotations

import contextvars
import logging

import pytest
from opentelemetry import context, trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

from dfm.runtime import _otel_context
from dfm.runtime._otel_context import context_ops

SPAN = trace.NonRecordingSpan(
    trace.SpanContext(0x1234, 0x5678, False, trace.TraceFlags(trace.TraceFlags.SAMPLED))
)
OTHER = trace.NonRecordingSpan(trace.SpanContext(0x9, 0xA, False))


def test_the_default_runtime_context_gets_the_direct_operations() -> None:
    assert type(context._RUNTIME_CONTEXT) is ContextVarsRuntimeContext
    assert context_ops().attach_span.__qualname__.startswith("context_ops.")


def _in_fresh_context(check: object) -> None:
    contextvars.Context().run(check)  # type: ignore[arg-type]


@pytest.mark.parametrize("ops", [context_ops(), _otel_context._api_ops()], ids=["direct", "api"])
def test_operations_agree_with_the_api(ops: _otel_context.ContextOps) -> None:
    def check() -> None:
        assert ops.current_span() is trace.INVALID_SPAN
        assert ops.current_context() == context.get_current()
        api_token = context.attach(context.set_value("other-key", 7))
        token = ops.attach_span(SPAN)
        # what the API reads: the span, and the values attached before it
        assert trace.get_current_span() is SPAN
        assert context.get_value("other-key") == 7
        assert ops.current_span() is SPAN
        inner = context.attach(trace.set_span_in_context(OTHER))
        assert ops.current_span() is OTHER
        context.detach(inner)
        assert ops.current_span() is SPAN
        ops.detach(token)
        assert trace.get_current_span() is trace.INVALID_SPAN
        assert context.get_value("other-key") == 7
        context.detach(api_token)
        assert context.get_current() == {}

    _in_fresh_context(check)


def test_a_value_that_is_no_span_reads_as_none() -> None:
    def check() -> None:
        token = context.attach(context.set_value(trace._SPAN_KEY, "not a span"))  # type: ignore[attr-defined]
        try:
            assert context_ops().current_span() is trace.INVALID_SPAN
        finally:
            context.detach(token)

    _in_fresh_context(check)


def test_a_bad_token_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    ops = context_ops()
    token = contextvars.Context().run(ops.attach_span, SPAN)  # made in another context
    with caplog.at_level(logging.ERROR, logger="dfm.telemetry"):
        ops.detach(token)
    assert "Failed to detach context" in caplog.text


def test_another_runtime_context_is_used_through_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Wrapped(ContextVarsRuntimeContext):
        """Any runtime context but the API's default one (OTEL_PYTHON_CONTEXT)."""

    runtime = Wrapped()
    monkeypatch.setattr(context, "_RUNTIME_CONTEXT", runtime)
    ops = context_ops()
    assert ops.detach is context.detach
    token = ops.attach_span(SPAN)
    assert runtime.get_current()[trace._SPAN_KEY] is SPAN  # type: ignore[attr-defined]
    assert ops.current_span() is SPAN
    ops.detach(token)
    assert ops.current_span() is trace.INVALID_SPAN
