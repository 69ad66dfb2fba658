"""OtlpReceiver: a small OTLP receiver for tests (HTTP/protobuf and gRPC, on 127.0.0.1).

It decodes the real ``Export*ServiceRequest`` protobufs with ``opentelemetry-proto``
and keeps them, flattened into :class:`ReceivedSpan` and :class:`ReceivedPoint` for
assertions. gRPC needs ``grpcio`` (the ``[grpc]`` extra).
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it.

    Attributes:
        name: The span's name.
        trace_id: 32 hex digits.
        span_id: 16 hex digits.
        parent_span_id: 16 hex digits, or ``""`` for a root span.
        attributes: The span's attributes.
        resource: The attributes of the span's resource.
        status_code: 0 unset, 1 ok, 2 error.
        status_message: The status description.
        events: The names of the span's events (``exception`` for a recorded error).
        start_ns: Start time, ns since the epoch.
        end_ns: End time, ns since the epoch.
        scope: The instrumentation scope's name.
    """

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int
    status_message: str
    events: tuple[str, ...]
    start_ns: int
    end_ns: int
    scope: str


@dataclass(frozen=True)
class ReceivedPoint:
    """One metric data point as the receiver decoded it.

    Attributes:
        name: The metric's name.
        kind: ``sum``, ``gauge`` or ``histogram``.
        attributes: The point's attributes.
        value: The value of a sum or gauge; a histogram's sum.
        count: A histogram's count (0 otherwise).
        resource: The attributes of the metric's resource.
        unit: The metric's unit.
        monotonic: Whether a sum is monotonic.
    """

    name: str
    kind: str
    attributes: dict[str, Any]
    value: float
    count: int
    resource: dict[str, Any]
    unit: str
    monotonic: bool = False


@dataclass
class _Store:
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    raw: list[tuple[str, str, bytes]] = field(default_factory=list)
    fail_next: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)
    connections: set[socket.socket] = field(default_factory=set)


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def _handler(store: _Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Kept-alive connections, as collectors serve them (exporters keep theirs open).
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with store.cond:
                store.connections.add(self.connection)

        def finish(self) -> None:
            with store.cond:
                store.connections.discard(self.connection)
            super().finish()

        def _empty_reply(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = _decompress(self.rfile.read(length), self.headers.get("Content-Encoding", ""))
            with store.cond:
                failing = store.fail_next > 0
                if failing:
                    store.fail_next -= 1
            if failing:
                self._empty_reply(503)
                return
            reply: bytes
            if self.path == "/v1/traces":
                request: Any = ExportTraceServiceRequest.FromString(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                target = store.traces
            elif self.path == "/v1/metrics":
                request = ExportMetricsServiceRequest.FromString(body)
                reply = ExportMetricsServiceResponse().SerializeToString()
                target = store.metrics
            else:
                self._empty_reply(404)
                return
            with store.cond:
                target.append(request)
                store.raw.append(("http", self.path, body))
                store.cond.notify_all()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    return Handler


class OtlpReceiver:
    """An OTLP receiver on 127.0.0.1 (ports chosen by the OS); use it as a context manager.

    Example::

        with OtlpReceiver(grpc=True) as receiver:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint}
            ...
            spans = receiver.wait_for_spans(lambda spans: len(spans) >= 3, timeout=10)

    Args:
        http: Serve OTLP/HTTP (protobuf) on ``/v1/traces`` and ``/v1/metrics``.
        grpc: Serve OTLP/gRPC (needs ``grpcio``).
    """

    def __init__(self, http: bool = True, grpc: bool = False) -> None:
        """Nothing listens before :meth:`start`."""
        self._store = _Store()
        self._want_http, self._want_grpc = http, grpc
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self.http_port = 0
        self.grpc_port = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> OtlpReceiver:
        """Listen (returns at once; the servers run on daemon threads)."""
        if self._want_http:
            self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._store))
            self._http.daemon_threads = True
            self.http_port = self._http.server_address[1]
            threading.Thread(target=self._http.serve_forever, daemon=True).start()
        if self._want_grpc:
            self._start_grpc()
        return self

    def _start_grpc(self) -> None:
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        store = self._store

        def accept(target: list[Any], request: Any, context: Any) -> bool:
            with store.cond:
                failing = store.fail_next > 0
                if failing:
                    store.fail_next -= 1
                else:
                    target.append(request)
                    store.raw.append(("grpc", type(request).__name__, request.SerializeToString()))
                    store.cond.notify_all()
            if failing:
                context.abort(grpc.StatusCode.UNAVAILABLE, "failing on purpose")
            return True

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
                accept(store.traces, request, context)
                return ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
                accept(store.metrics, request, context)
                return ExportMetricsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            Traces(), server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            Metrics(), server
        )
        self.grpc_port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._grpc = server

    def stop(self) -> None:
        """Stop listening."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
            with self._store.cond:  # kept-alive connections end too: a stopped receiver
                kept = list(self._store.connections)  # refuses, as a dead collector does
            for connection in kept:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if self._grpc is not None:
            self._grpc.stop(grace=None)
            self._grpc = None

    def __enter__(self) -> OtlpReceiver:
        """Start."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()

    # -- endpoints ---------------------------------------------------------------------
    @property
    def http_endpoint(self) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` for OTLP/HTTP."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` for OTLP/gRPC."""
        return f"http://127.0.0.1:{self.grpc_port}"

    def fail_next(self, n: int) -> None:
        """Refuse the next ``n`` requests (HTTP 503, gRPC UNAVAILABLE)."""
        with self._store.cond:
            self._store.fail_next = n

    # -- what arrived -----------------------------------------------------------------
    @property
    def raw_requests(self) -> list[tuple[str, str, bytes]]:
        """Every accepted request: (transport, path or message type, body bytes)."""
        with self._store.cond:
            return list(self._store.raw)

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._store.cond:
            requests = list(self._store.traces)
        out = []
        for request in requests:
            for rs in request.resource_spans:
                resource = _attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append(
                            ReceivedSpan(
                                name=s.name,
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_span_id=s.parent_span_id.hex(),
                                attributes=_attributes(s.attributes),
                                resource=resource,
                                status_code=int(s.status.code),
                                status_message=s.status.message,
                                events=tuple(e.name for e in s.events),
                                start_ns=s.start_time_unix_nano,
                                end_ns=s.end_time_unix_nano,
                                scope=ss.scope.name,
                            )
                        )
        return out

    def points(self) -> list[ReceivedPoint]:
        """Every metric data point received so far (in arrival order)."""
        with self._store.cond:
            requests = list(self._store.metrics)
        out = []
        for request in requests:
            for rm in request.resource_metrics:
                resource = _attributes(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        if kind == "sum":
                            for p in m.sum.data_points:
                                value = p.as_int if p.HasField("as_int") else p.as_double
                                out.append(
                                    ReceivedPoint(
                                        m.name,
                                        "sum",
                                        _attributes(p.attributes),
                                        value,
                                        0,
                                        resource,
                                        m.unit,
                                        m.sum.is_monotonic,
                                    )
                                )
                        elif kind == "gauge":
                            for p in m.gauge.data_points:
                                value = p.as_int if p.HasField("as_int") else p.as_double
                                out.append(
                                    ReceivedPoint(
                                        m.name,
                                        "gauge",
                                        _attributes(p.attributes),
                                        value,
                                        0,
                                        resource,
                                        m.unit,
                                    )
                                )
                        elif kind == "histogram":
                            for h in m.histogram.data_points:
                                out.append(
                                    ReceivedPoint(
                                        m.name,
                                        "histogram",
                                        _attributes(h.attributes),
                                        h.sum,
                                        h.count,
                                        resource,
                                        m.unit,
                                    )
                                )
        return out

    def latest(self, name: str) -> dict[tuple[tuple[str, Any], ...], ReceivedPoint]:
        """The last point of a metric per attribute set (cumulative values: the totals)."""
        found = {}
        for point in self.points():
            if point.name == name:
                key = tuple(sorted((k, str(v)) for k, v in point.attributes.items()))
                found[key] = point
        return found

    def wait_for(self, done: Callable[[OtlpReceiver], bool], timeout: float) -> bool:
        """Wait until ``done(receiver)`` is true; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._store.cond:
            while True:
                self._store.cond.release()
                try:
                    if done(self):
                        return True
                finally:
                    self._store.cond.acquire()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._store.cond.wait(min(left, 0.2))

    def wait_for_spans(
        self, done: Callable[[list[ReceivedSpan]], bool], timeout: float
    ) -> list[ReceivedSpan]:
        """Wait until ``done(spans)`` is true, then return the spans.

        Raises:
            TimeoutError: Naming what had arrived.
        """
        if not self.wait_for(lambda r: done(r.spans()), timeout):
            names = sorted(f"{s.name}@{s.attributes.get('dfm.site')}" for s in self.spans())
            raise TimeoutError(f"after {timeout:g}s the receiver has spans {names}")
        return self.spans()
