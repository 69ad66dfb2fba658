"""DFM's OTLP trace encoder gives the SDK's request, field for field, and the exporters use it."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

from dfm.telemetry._config import SignalConfig
from dfm.telemetry._exporters import span_exporter
from dfm.telemetry._otlp_encode import encode_trace_request
from dfm.telemetry._otlp_exporters import FastHttpSpanExporter

text = st.text(max_size=12)
scalar = st.one_of(
    text,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)
value = st.one_of(
    scalar,
    st.lists(st.text(max_size=5), max_size=3).map(tuple),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=3),
    st.lists(st.booleans(), max_size=3).map(tuple),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.binary(max_size=8),
)
attributes = st.dictionaries(text, value, max_size=5)
ids = st.integers(min_value=1, max_value=2**64 - 1)
trace_ids = st.integers(min_value=1, max_value=2**128 - 1)


@st.composite
def contexts(draw: Any) -> SpanContext:
    state = draw(st.sampled_from([TraceState(), TraceState([("vendor", "x1"), ("b", "2")])]))
    return SpanContext(draw(trace_ids), draw(ids), draw(st.booleans()), trace_state=state)


RESOURCES = [Resource({"service.name": "s", "dfm.site": "north"}), Resource({}, "https://schema")]
SCOPES = [
    InstrumentationScope("dfm", "1.0"),
    InstrumentationScope("user", None, "https://scope-schema", {"k": "v"}),
    None,
]


@st.composite
def spans(draw: Any) -> ReadableSpan:
    events = [
        Event(draw(text), draw(attributes), draw(st.integers(0, 2**63)))
        for _ in range(draw(st.integers(0, 2)))
    ]
    links = [Link(draw(contexts()), draw(attributes)) for _ in range(draw(st.integers(0, 2)))]
    code = draw(st.sampled_from(list(StatusCode)))
    description = draw(text) if code is StatusCode.ERROR else None
    start = draw(st.integers(0, 2**63))
    return ReadableSpan(
        name=draw(text),
        context=draw(contexts()),
        parent=draw(st.one_of(st.none(), contexts())),
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=draw(attributes),
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=Status(code, description),
        start_time=start,
        end_time=draw(st.integers(start, 2**63)),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(spans(), max_size=6))
def test_the_request_is_the_sdks(batch: list[ReadableSpan]) -> None:
    ours = ExportTraceServiceRequest.FromString(encode_trace_request(batch))
    theirs = encode_spans(batch)
    # Grouping may order resources/scopes differently; compare each group's spans.
    assert _groups(ours) == _groups(theirs)


def _groups(request: ExportTraceServiceRequest) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            key = rs.resource.SerializeToString(deterministic=True) + rs.schema_url.encode()
            key += ss.scope.SerializeToString(deterministic=True) + ss.schema_url.encode()
            out.setdefault(key, []).extend(
                s.SerializeToString(deterministic=True) for s in ss.spans
            )
    return out


def test_values_the_sdk_leaves_out_are_left_out() -> None:
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, False),
        resource=RESOURCES[0],
        attributes={"ok": 1, "bad": {1, 2}, "nan": math.nan},  # type: ignore[dict-item]
    )
    (ours,) = ExportTraceServiceRequest.FromString(encode_trace_request([span])).resource_spans
    keys = [kv.key for kv in ours.scope_spans[0].spans[0].attributes]
    assert keys == ["ok", "nan"]


def test_dfms_otlp_exporters_use_the_fast_encoder() -> None:
    config = SignalConfig("otlp", "http/protobuf", "http://127.0.0.1:1/v1/traces", True, 1.0)
    exporter = span_exporter(config)
    inner = getattr(exporter, "inner", None)
    assert isinstance(inner, FastHttpSpanExporter)
    # The SDK internals the fast path needs are there (pinned version): no silent fallback.
    assert hasattr(inner, "_client") and hasattr(inner._client, "export")
    grpc = span_exporter(SignalConfig("otlp", "grpc", "http://127.0.0.1:1", True, 1.0))
    assert getattr(grpc, "inner", None).fast  # type: ignore[union-attr]
    translated = grpc.inner._translate_data(  # type: ignore[union-attr]
        [ReadableSpan(name="s", context=SpanContext(1, 2, False), resource=RESOURCES[0])]
    )
    assert translated.resource_spans[0].scope_spans[0].spans[0].name == "s"


def test_cached_fields_never_mix_up_equal_values_of_other_types() -> None:
    # True == 1 == 1.0 and (True,) == (1,): each must still encode as its own type.
    values: list[Any] = [True, 1, 1.0, "1", ("a",), (True,), (1,), ("a", "b"), 1, True]
    for value in values * 2:  # the second time from the caches
        span = ReadableSpan(
            name="s",
            context=SpanContext(1, 2, False),
            resource=RESOURCES[0],
            attributes={"k": value},
        )
        ours = ExportTraceServiceRequest.FromString(encode_trace_request([span]))
        assert _groups(ours) == _groups(encode_spans([span])), value


def test_dfms_recorded_spans_encode_as_the_sdk_would() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from dfm.telemetry._fast import RecordingTracerProvider

    exporter = InMemorySpanExporter()
    sdk = TracerProvider(resource=RESOURCES[0], shutdown_on_exit=False)
    provider = RecordingTracerProvider(SimpleSpanProcessor(exporter), sdk.resource, sdk.sampler)
    tracer = provider.get_tracer("dfm", "1.0")
    shared = {"dfm.federation": "f", "dfm.sites": ("a", "b")}
    for job in range(3):
        root = tracer.start_span("dfm.job", attributes=shared)
        child = tracer.start_child(  # type: ignore[attr-defined]
            "dfm.site.run", root.get_span_context(), {"dfm.site": "a", "dfm.job.id": f"j{job}"}
        )
        child.set_attribute("dfm.outcome", "ok")
        child.record_exception(ValueError("boom"))
        child.set_status(Status(StatusCode.ERROR, "boom"))
        child.end()
        root.set_attribute("dfm.job.id", f"j{job}")
        root.end()
    provider.recorder.flush()
    batch = list(exporter.get_finished_spans())
    assert len(batch) == 6
    ours = ExportTraceServiceRequest.FromString(encode_trace_request(batch))
    assert _groups(ours) == _groups(encode_spans(batch))
