"""Forwarding: a site without a collector sends its telemetry to the application.

On the site, :class:`SiteSpanBuffer` keeps finished spans by trace (one trace per job);
at the end of the site's run of a job the runtime drains them, OTLP-encoded, into one
yield to the reserved place ``__telemetry__``. The application's
:class:`ForwardedExporter` sends those requests unchanged to its own OTLP endpoint,
from a thread with a bounded queue: it never blocks a job, and what does not fit is
dropped and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from dfm.runtime import telemetry

from ._adapter_metrics import dfm_scope, with_adapter_durations
from ._config import SignalConfig
from ._exporters import Breaker, _grpc_missing, _grpc_target
from ._otlp_encode import encode_trace_request

_log = logging.getLogger("dfm.telemetry")
MAX_SPANS_PER_TRACE = 10_000
MAX_TRACES = 64
MAX_FORWARDED_BYTES = 4 * 1024 * 1024  # one forwarded request; larger ones are dropped


class SiteSpanBuffer(SpanProcessor):
    """Keeps a forwarding site's finished spans by trace id, bounded.

    Args:
        max_spans: Spans kept per trace (more are dropped and counted).
        max_traces: Traces kept (the oldest is dropped, counted, when a new one comes).
    """

    def __init__(self, max_spans: int = MAX_SPANS_PER_TRACE, max_traces: int = MAX_TRACES):
        """Empty."""
        self._spans: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_spans = max_spans
        self._max_traces = max_traces

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do."""

    def on_end(self, span: ReadableSpan) -> None:
        """Keep the span (called on the thread that ended it)."""
        context = span.context
        if context is None or not span.context.trace_flags.sampled:
            return
        dropped = 0
        with self._lock:
            spans = self._spans.get(context.trace_id)
            if spans is None:
                spans = self._spans[context.trace_id] = []
                while len(self._spans) > self._max_traces:
                    dropped += len(self._spans.popitem(last=False)[1])
            if len(spans) < self._max_spans:
                spans.append(span)
            else:
                dropped += 1
        telemetry.count_dropped("forward_buffer_full", dropped)

    def drain(self, trace_id: int) -> bytes | None:
        """The spans of one trace as an OTLP ``ExportTraceServiceRequest``; forgets them."""
        with self._lock:
            spans = self._spans.pop(trace_id, None)
        if not spans:
            return None
        return encode_trace_request(spans)

    def shutdown(self) -> None:
        """Forget everything."""
        with self._lock:
            self._spans.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is pending outside the buffer."""
        return True


class SiteMetricsSnapshot:
    """A forwarding site's metrics, collected on demand (cumulative, so repeats are safe)."""

    def __init__(self, resource: Resource) -> None:
        """The reader to give the site's meter provider."""
        self.reader = InMemoryMetricReader()
        self._resource = resource
        self._scope = dfm_scope()
        self._start = time.time_ns()

    def collect(self) -> bytes | None:
        """The process's metrics now, as an OTLP ``ExportMetricsServiceRequest``."""
        data = self.reader.get_metrics_data()
        data = with_adapter_durations(data, self._resource, self._scope, self._start)
        if data is None or not data.resource_metrics:
            return None
        from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

        encoded: bytes = encode_metrics(data).SerializeToString()
        return encoded


def _is_request(signal: str, payload: bytes) -> bool:
    """Whether ``payload`` parses as the OTLP export request of ``signal``."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    kind = ExportTraceServiceRequest if signal == "traces" else ExportMetricsServiceRequest
    try:
        kind.FromString(payload)
    except Exception:  # protobuf's DecodeError
        return False
    return True


class ForwardedExporter:
    """Sends OTLP requests forwarded by sites, unchanged, to the application's endpoint.

    Args:
        traces: Where the application's spans go.
        metrics: Where the application's metrics go.
        max_queue: Requests kept while the thread exports (more are dropped).
    """

    def __init__(self, traces: SignalConfig, metrics: SignalConfig, max_queue: int) -> None:
        """Nothing starts before the first request."""
        self._configs = {"traces": traces, "metrics": metrics}
        self._breakers = {"traces": Breaker("forwarded traces"), "metrics": Breaker("metrics")}
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._grpc: dict[str, Any] = {}
        self._unsupported_logged: set[str] = set()

    def submit(self, signal: str, payload: bytes) -> None:
        """Queue a request for export; never blocks (a full queue drops it, counted).

        The payload comes from a site, so it is untrusted: one that is too large or not
        an OTLP request of its signal is dropped (counted) and never reaches the
        collector, so a broken site cannot make the collector refuse the others'.
        """
        config = self._configs.get(signal)
        if config is None or config.exporter == "none":
            return
        if len(payload) > MAX_FORWARDED_BYTES:
            telemetry.count_dropped("forward_too_large")
            return
        if config.exporter != "otlp":
            if signal not in self._unsupported_logged:
                self._unsupported_logged.add(signal)
                _log.warning(
                    "DFM telemetry: sites forwarded %s, but this application exports %s to "
                    "%r, not OTLP; forwarded %s are dropped",
                    signal,
                    signal,
                    config.exporter,
                    signal,
                )
            telemetry.count_dropped("forward_not_otlp")
            return
        try:
            self._idle.clear()
            self._queue.put_nowait((signal, payload))
        except queue.Full:
            telemetry.count_dropped("forward_queue_full")
            return
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="dfm-telemetry-forward", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                self._idle.set()
                continue
            if item is None:
                self._idle.set()
                return
            signal, payload = item
            breaker = self._breakers[signal]
            if not _is_request(signal, payload):
                telemetry.count_dropped("invalid_forward")
            elif not breaker.allows():
                telemetry.count_dropped("export_failed")
            else:
                outcome = self._send(signal, payload)
                if outcome != "rejected":  # the collector refusing one request is not down
                    breaker.record(outcome == "ok")
                if outcome != "ok":
                    telemetry.count_dropped("export_failed")
            if self._queue.empty():
                self._idle.set()

    def _send(self, signal: str, payload: bytes) -> str:
        """``ok``, ``rejected`` (the collector refused this request) or ``failed``."""
        config = self._configs[signal]
        try:
            if config.protocol == "grpc":
                return self._send_grpc(signal, config, payload)
            request = urllib.request.Request(
                config.endpoint,
                data=payload,
                method="POST",
                headers={"Content-Type": "application/x-protobuf", **config.headers},
            )
            with urllib.request.urlopen(request, timeout=config.timeout) as response:
                return "ok" if 200 <= int(response.status) < 300 else "failed"
        except urllib.error.HTTPError as e:
            _log.debug("DFM telemetry: forwarding %s failed: %s", signal, e)
            return "rejected" if 400 <= e.code < 500 and e.code != 429 else "failed"
        except Exception as e:
            _log.debug("DFM telemetry: forwarding %s failed: %s", signal, e)
            return "failed"

    def _send_grpc(self, signal: str, config: SignalConfig, payload: bytes) -> str:
        stub = self._grpc.get(signal)
        if stub is None:
            try:
                import grpc
            except ImportError:
                raise _grpc_missing(signal) from None
            target, insecure = _grpc_target(config.endpoint)
            channel = (
                grpc.insecure_channel(target)
                if insecure
                else grpc.secure_channel(target, grpc.ssl_channel_credentials())
            )
            path = (
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                if signal == "traces"
                else "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
            )
            # Raw bytes in and out: the request is sent exactly as the site encoded it.
            stub = channel.unary_unary(path)
            self._grpc[signal] = stub
        stub(payload, timeout=config.timeout, metadata=tuple(config.headers.items()) or None)
        return "ok"

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued request was sent (or given up on)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the thread after what is queued (without waiting for it)."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
