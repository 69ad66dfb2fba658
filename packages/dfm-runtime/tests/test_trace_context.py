"""DFM's own W3C header writing and reading agrees with OpenTelemetry's propagator."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dfm.runtime._trace_context import extract, inject

PROPAGATOR = TraceContextTextMapPropagator()
hex_text = st.text(alphabet="0123456789abcdefABCDEF-", max_size=60)


def _parent(ctx: object) -> trace.SpanContext:
    return trace.get_current_span(ctx).get_span_context()  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**128 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 255),
    st.sampled_from([None, "vendor=1,other=x"]),
)
def test_headers_are_the_propagators(
    trace_id: int, span_id: int, flags: int, state: str | None
) -> None:
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id,
            span_id,
            False,
            trace.TraceFlags(flags),
            trace.TraceState.from_header([state]) if state else None,
        )
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        expected: dict[str, str] = {}
        PROPAGATOR.inject(expected)
        assert inject(trace.get_current_span()) == expected
    finally:
        context.detach(token)
    assert inject(span) == expected  # the span given, current or not
    if expected:
        assert _parent(extract(expected)) == _parent(PROPAGATOR.extract(expected))


@settings(max_examples=500, deadline=None)
@given(st.one_of(hex_text, st.builds("00-{}-{}-{}".format, hex_text, hex_text, hex_text)))
def test_any_traceparent_reads_as_the_propagator_reads_it(header: str) -> None:
    carrier = {"traceparent": header}
    assert _parent(extract(carrier)) == _parent(PROPAGATOR.extract(carrier))
