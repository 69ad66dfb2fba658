"""DFM's recorded spans: sampled as the provider's sampler says, attributes kept as the SDK's."""

from __future__ import annotations

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from dfm.telemetry._fast import RecordingTracerProvider


def _recorded(sampler: object) -> tuple[InMemorySpanExporter, RecordingTracerProvider]:
    exporter = InMemorySpanExporter()
    sdk = TracerProvider(sampler=sampler, shutdown_on_exit=False)  # type: ignore[arg-type]
    processor = SimpleSpanProcessor(exporter)
    return exporter, RecordingTracerProvider(processor, sdk.resource, sdk.sampler)


def test_roots_follow_the_providers_sampler() -> None:
    for sampler, expected in (
        (ParentBased(ALWAYS_OFF), 0),
        (ALWAYS_OFF, 0),
        (ParentBased(TraceIdRatioBased(1.0)), 5),
        (TracerProvider().sampler, 5),  # the SDK's default (OTEL_TRACES_SAMPLER unset)
    ):
        exporter, provider = _recorded(sampler)
        tracer = provider.get_tracer("t")
        for _ in range(5):
            tracer.start_span("root").end()
        provider.recorder.flush()
        assert len(exporter.get_finished_spans()) == expected, sampler


def test_attributes_reach_the_processor_as_the_sdk_would_keep_them() -> None:
    given = {"sites": ["a", "b"], "n": 1, "empty": []}
    for extra in ({}, {"mixed": [1, "x"], "bad": object()}):  # plain, or validated
        exporter, provider = _recorded(TracerProvider().sampler)
        span = provider.get_tracer("t").start_span("s", attributes={**given, **extra})
        span.end()
        provider.recorder.flush()
        (done,) = exporter.get_finished_spans()
        sdk = dict(BoundedAttributes(attributes={**given, **extra}, immutable=True))
        assert dict(done.attributes) == sdk
        assert done.attributes["sites"] == ("a", "b")  # a tuple, as the SDK keeps it
        assert isinstance(done.resource, Resource)


def test_a_child_started_from_its_parents_ids_is_the_child_start_span_gives() -> None:
    from opentelemetry import trace

    exporter, provider = _recorded(TracerProvider().sampler)
    tracer = provider.get_tracer("t")
    parent = tracer.start_span("job")
    by_context = tracer.start_span("run", trace.set_span_in_context(parent), attributes={"a": 1})
    by_ids = tracer.start_child("run", parent.get_span_context(), {"a": 1})  # type: ignore[attr-defined]
    for child in (by_context, by_ids):
        child.end()
    unsampled = trace.SpanContext(1, 2, True, trace.TraceFlags(0))
    assert not tracer.start_child("run", unsampled).is_recording()  # type: ignore[attr-defined]
    provider.recorder.flush()
    a, b = exporter.get_finished_spans()
    for key in ("name", "parent", "kind", "attributes"):
        assert getattr(a, key) == getattr(b, key), key
    assert a.context.trace_id == b.context.trace_id == parent.get_span_context().trace_id
    assert a.context.trace_flags == b.context.trace_flags


def test_a_child_keeps_its_parents_trace_state() -> None:
    from opentelemetry import trace

    exporter, provider = _recorded(TracerProvider().sampler)
    state = trace.TraceState([("vendor", "v1")])
    remote = trace.SpanContext(7, 8, True, trace.TraceFlags(1), state)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    provider.get_tracer("t").start_span("run", parent).end()
    provider.recorder.flush()
    (done,) = exporter.get_finished_spans()
    assert done.context.trace_state == state  # as the SDK's ParentBased sampler passes it on
    assert done.parent == remote
