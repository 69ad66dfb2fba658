"""DFM's spans exported directly: batched as OTEL_BSP_* says, never in a trickle, bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from dfm.telemetry._config import BatchConfig
from dfm.telemetry._fast import RecordingTracerProvider


class BatchesExporter(SpanExporter):
    """Keeps each exported batch; fails if two exports ever overlap."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self._busy = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        assert self._busy.acquire(blocking=False), "export called concurrently"
        try:
            self.batches.append([s.name for s in spans])
            time.sleep(0.001)  # an export takes a while: spans keep ending meanwhile
        finally:
            self._busy.release()
        return SpanExportResult.SUCCESS

    def spans(self) -> list[str]:
        return [name for batch in self.batches for name in batch]


def _direct(batch: BatchConfig) -> tuple[BatchesExporter, RecordingTracerProvider]:
    exporter = BatchesExporter()
    sdk = TracerProvider(shutdown_on_exit=False)
    processor = BatchSpanProcessor(exporter)
    return exporter, RecordingTracerProvider(processor, sdk.resource, sdk.sampler, exporter, batch)


def _wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_steady_stream_goes_out_in_full_batches() -> None:
    exporter, provider = _direct(BatchConfig(5.0, 2048, 50))
    tracer = provider.get_tracer("t")
    for i in range(1000):  # while the thread exports, more spans end
        tracer.start_span(f"s{i}").end()
        if i % 10 == 0:
            time.sleep(0.0005)
    _wait_for(lambda: len(exporter.spans()) >= 1000)
    assert exporter.spans() == [f"s{i}" for i in range(1000)]  # all, in order, once
    assert {len(b) for b in exporter.batches} == {50}  # no trickle of small requests


def test_a_partial_batch_waits_for_the_schedule_delay_only() -> None:
    exporter, provider = _direct(BatchConfig(0.2, 2048, 512))
    started = time.monotonic()
    for i in range(3):
        provider.get_tracer("t").start_span(f"s{i}").end()
    _wait_for(lambda: len(exporter.spans()) == 3)
    assert exporter.batches == [["s0", "s1", "s2"]]
    assert 0.15 < time.monotonic() - started < 5.0


def test_spans_over_the_queue_limit_are_dropped_not_waited_for() -> None:
    exporter, provider = _direct(BatchConfig(60.0, 10, 10))
    gate = threading.Lock()
    gate.acquire()
    slow = exporter.export

    def blocked(spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with gate:  # the collector hangs: nothing leaves the queue
            return slow(spans)

    exporter.export = blocked  # type: ignore[method-assign]
    tracer = provider.get_tracer("t")
    for i in range(10):
        tracer.start_span(f"a{i}").end()
    _wait_for(lambda: not provider.recorder._pending)  # the thread took the full batch
    started = time.monotonic()
    for i in range(100):
        tracer.start_span(f"b{i}").end()
    assert time.monotonic() - started < 1.0  # ending a span never waits for the export
    assert len(provider.recorder._pending) == 10  # the rest were dropped (and counted)
    gate.release()  # the thread sends the second full batch itself
    _wait_for(lambda: len(exporter.spans()) == 20)
    assert exporter.spans() == [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_BSP_SCHEDULE_DELAY": "soon"}, "OTEL_BSP_SCHEDULE_DELAY='soon' is not a number"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, "OTEL_BSP_MAX_QUEUE_SIZE='0' must be at least 1"),
        (
            {"OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "20"},
            "make the batch at most the queue",
        ),
    ],
)
def test_batching_variables_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchConfig.from_env(env)


def test_batching_variables_are_read() -> None:
    env = {
        "OTEL_BSP_SCHEDULE_DELAY": "250",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "20",
    }
    assert BatchConfig.from_env(env) == BatchConfig(0.25, 100, 20)
    assert BatchConfig.from_env({}) == BatchConfig(5.0, 2048, 512)  # the SDK's defaults
