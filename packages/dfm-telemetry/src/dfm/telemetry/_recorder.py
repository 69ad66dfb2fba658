"""Where DFM's finished spans wait, and the thread that sends them on in batches.

When DFM built the exporter itself (an OTLP exporter in a private provider, every site
process), :class:`SpanRecorder` is DFM's batch span processor: its thread encodes and
exports batches of DFM's own spans directly, with the ``OTEL_BSP_*`` batching. That is
one queue and one thread wake-up per batch instead of the SDK processor's ``on_end``
and second queue per span. Spans users open with the OpenTelemetry API keep the SDK's
``BatchSpanProcessor``, over the same exporter (its ``export`` is never called
concurrently: the exporter locks). For any other processor (the console, a forwarding
site's buffer, none) the thread hands each span to the processor's ``on_end``.

A span that ends costs the thread that ended it a deque append and a flag test; the
thread wakes once per batch: when the first span of a batch arrives it waits until the
batch is full or the schedule delay has passed.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from dfm.runtime import telemetry

from ._config import BatchConfig

if TYPE_CHECKING:
    from ._fast import RecordedSpan

_log = logging.getLogger("dfm.telemetry")
PROCESSOR_DELAY = 0.05
"""Seconds spans wait for their batch when they go to a processor's ``on_end`` (which
batches, or not, itself)."""


class SpanRecorder:
    """DFM's finished spans, in batches, to the exporter (or to a span processor).

    Args:
        processor: The span processor of DFM's SDK provider.
        resource: The process's resource.
        exporter: The exporter DFM built for ``processor``, to export to directly.
        batch: The batching of direct exports (ignored without ``exporter``).
    """

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource,
        exporter: SpanExporter | None = None,
        batch: BatchConfig | None = None,
    ) -> None:
        """Nothing runs before the first span ends."""
        batch = batch or BatchConfig()
        self.processor = processor
        self.resource = resource
        self.exporter = exporter
        if exporter is not None:
            self._delay, self._batch = batch.schedule_delay, batch.max_export_batch_size
            self._max_pending = batch.max_queue_size
        else:
            self._delay, self._batch, self._max_pending = PROCESSOR_DELAY, 512, 20_000
        self._pending: deque[RecordedSpan] = deque()
        self._armed = False  # a wake-up is on its way for the spans pending now
        self._filled = False  # a full batch was signalled
        self._wake = threading.Event()  # the first span of a batch arrived
        self._full = threading.Event()  # a batch is full: do not wait for the delay
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):  # a forked child starts its own thread
            ref = weakref.ref(self)

            def after_fork() -> None:
                recorder = ref()
                if recorder is not None:
                    recorder._after_fork()

            os.register_at_fork(after_in_child=after_fork)

    def finished(self, span: RecordedSpan) -> None:
        """A span ended (any thread): queue it, dropping it if too many are pending."""
        pending = self._pending
        waiting = len(pending)
        if waiting >= self._max_pending:
            telemetry.count_dropped("span_queue_full")
            return
        pending.append(span)
        if not self._armed:
            self._armed = True
            if self._thread is None:
                self._start()
            self._wake.set()
        elif waiting + 1 >= self._batch and not self._filled:
            self._filled = True
            self._full.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="dfm-telemetry-spans", daemon=True
                )
                self._thread.start()

    def _after_fork(self) -> None:
        self._pending.clear()
        self._armed = self._filled = False
        self._wake, self._full = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            full = self._full.wait(self._delay)
            # Clear before taking: a span that ends from here on wakes the next round.
            self._wake.clear()
            self._full.clear()
            self._armed = self._filled = False
            try:
                self.flush(full_batches_only=full)
            except Exception:  # the thread outlives anything one round does
                _log.exception("DFM telemetry: sending spans failed")

    def flush(self, full_batches_only: bool = False) -> None:
        """Send the spans pending now on (on the calling thread).

        Only those: spans that end meanwhile wait for the next round, so that a steady
        stream of them is sent in full batches, not one small request after another.

        Args:
            full_batches_only: Leave the spans that do not fill a batch for later (a
                round woken by a full batch, before its delay passed).
        """
        pending = self._pending
        count = len(pending)
        if full_batches_only:
            count -= count % self._batch
            if count < len(pending):
                self._armed = True  # the rest: sent by the next round, woken now
                self._wake.set()
        if self.exporter is not None:
            self._export(self.exporter, count)
            return
        on_end = self.processor.on_end
        for _ in range(count):
            try:
                span = pending.popleft()
            except IndexError:
                return
            try:
                on_end(span.readable())
            except Exception:  # a broken span never stops the others
                telemetry.count_dropped("invalid_span")

    def _export(self, exporter: SpanExporter, count: int) -> None:
        pending, size = self._pending, self._batch
        while count > 0:
            batch: list[ReadableSpan] = []
            try:
                while len(batch) < size and count > 0:
                    count -= 1
                    span = pending.popleft()
                    try:
                        batch.append(span.readable())
                    except Exception:  # a broken span never stops the others
                        telemetry.count_dropped("invalid_span")
            except IndexError:
                count = 0
            if not batch:
                continue
            # As the SDK's processors do: instrumented HTTP clients do not trace the export.
            token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                exporter.export(batch)
            except Exception:
                telemetry.count_dropped("export_failed", len(batch))
            finally:
                detach(token)
