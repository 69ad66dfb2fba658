"""Forwarding: a site's spans as OTLP bytes, exported unchanged by the application."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dfm.telemetry import TelemetryConfig
from dfm.telemetry._exporters import Breaker, BreakerSpanExporter
from dfm.telemetry._forward import ForwardedExporter, SiteSpanBuffer
from dfm.telemetry.testing import OtlpReceiver


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(http=True, grpc=True) as r:
        yield r


def site_spans(n: int = 3) -> tuple[SiteSpanBuffer, int]:
    buffer = SiteSpanBuffer()
    provider = TracerProvider(resource=Resource({"dfm.site": "far"}), shutdown_on_exit=False)
    provider.add_span_processor(buffer)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("dfm.site.run") as root:
        for i in range(n - 1):
            with tracer.start_as_current_span("ops.Load", attributes={"i": i}):
                pass
    return buffer, root.get_span_context().trace_id


def test_the_buffer_drains_one_trace_as_an_otlp_request() -> None:
    buffer, trace_id = site_spans(3)
    payload = buffer.drain(trace_id)
    assert payload is not None
    request = ExportTraceServiceRequest.FromString(payload)
    (rs,) = request.resource_spans
    names = sorted(s.name for ss in rs.scope_spans for s in ss.spans)
    assert names == ["dfm.site.run", "ops.Load", "ops.Load"]
    assert buffer.drain(trace_id) is None  # forgotten


def test_the_buffer_is_bounded() -> None:
    buffer = SiteSpanBuffer(max_spans=2)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(buffer)
    with provider.get_tracer("t").start_as_current_span("root") as root:
        for _ in range(5):
            provider.get_tracer("t").start_span("x").end()
    payload = buffer.drain(root.get_span_context().trace_id)
    assert payload is not None
    assert (
        len(ExportTraceServiceRequest.FromString(payload).resource_spans[0].scope_spans[0].spans)
        == 2
    )


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_forwarded_bytes_arrive_unchanged(receiver: OtlpReceiver, protocol: str) -> None:
    endpoint = receiver.http_endpoint if protocol == "http/protobuf" else receiver.grpc_endpoint
    config = TelemetryConfig.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    )
    buffer, trace_id = site_spans(4)
    payload = buffer.drain(trace_id)
    assert payload is not None
    exporter = ForwardedExporter(config.traces, config.metrics, max_queue=8)
    exporter.submit("traces", payload)
    assert exporter.wait_idle(5)
    receiver.wait_for(lambda r: len(r.spans()) == 4, 5)
    assert [body for _, _, body in receiver.raw_requests] == [payload]
    assert {s.resource["dfm.site"] for s in receiver.spans()} == {"far"}
    exporter.close()


def test_a_full_queue_drops_instead_of_blocking() -> None:
    # a port nobody listens on: the thread is busy failing while the queue fills
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    exporter = ForwardedExporter(config.traces, config.metrics, max_queue=2)
    for _ in range(50):
        exporter.submit("traces", b"\x00")  # never blocks
    assert exporter._queue.qsize() <= 2
    exporter.close()


class Failing(InMemorySpanExporter):
    calls = 0

    def export(self, spans):  # type: ignore[no-untyped-def]
        self.calls += 1
        return SpanExportResult.FAILURE


def test_the_breaker_stops_trying_after_a_failure() -> None:
    inner = Failing()
    exporter = BreakerSpanExporter(inner, Breaker("traces", cool_down=60))
    for _ in range(5):
        assert exporter.export([]) is SpanExportResult.FAILURE
    assert inner.calls == 1


def test_the_breaker_closes_again_after_its_cool_down() -> None:
    inner = Failing()
    exporter = BreakerSpanExporter(inner, Breaker("traces", cool_down=0))
    exporter.export([])
    exporter.export([])
    assert inner.calls == 2


def test_the_receiver_answers_failures_on_purpose(receiver: OtlpReceiver) -> None:
    import urllib.error
    import urllib.request

    receiver.fail_next(1)
    body = ExportTraceServiceRequest().SerializeToString()
    url = receiver.http_endpoint + "/v1/traces"
    with pytest.raises(urllib.error.HTTPError, match="503"):
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5)
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5):
        pass
    assert len(receiver.raw_requests) == 1


def test_garbage_from_a_site_is_dropped_and_never_trips_the_breaker(
    receiver: OtlpReceiver,
) -> None:
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint})
    exporter = ForwardedExporter(config.traces, config.metrics, max_queue=8)
    exporter.submit("traces", b"\xff\xff\xff not protobuf")
    exporter.submit("traces", b"x" * (5 * 1024 * 1024))  # too large: dropped at once
    buffer, trace_id = site_spans(2)
    payload = buffer.drain(trace_id)
    assert payload is not None
    exporter.submit("traces", payload)
    assert exporter.wait_idle(5)
    assert receiver.wait_for(lambda r: len(r.spans()) == 2, 5)
    assert [body for _, _, body in receiver.raw_requests] == [payload]
    exporter.close()
