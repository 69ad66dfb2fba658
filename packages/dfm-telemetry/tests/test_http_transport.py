"""The plain-HTTP transport: when it is used, and that it posts, keeps, recovers and times out."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.exporter.http.transport._requests import RequestsHTTPTransport
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from dfm.telemetry._config import SignalConfig
from dfm.telemetry._exporters import metric_exporter, span_exporter
from dfm.telemetry._http_transport import PlainHttpTransport, plain_http_transport
from dfm.telemetry.testing import OtlpReceiver

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _spans(n: int) -> list[object]:
    provider = TracerProvider(shutdown_on_exit=False)
    tracer = provider.get_tracer("t")
    spans = []
    for i in range(n):
        span = tracer.start_span(f"s{i}")
        span.end()
        spans.append(span)
    return spans


def test_plain_http_endpoints_get_it() -> None:
    assert isinstance(plain_http_transport("http://127.0.0.1:4318/v1/traces"), PlainHttpTransport)
    assert isinstance(plain_http_transport("http://collector:4318/v1/traces"), PlainHttpTransport)


@pytest.mark.parametrize(
    "variables",
    [
        {"HTTP_PROXY": "http://proxy:3128"},
        {"http_proxy": "http://proxy:3128"},
        {"ALL_PROXY": "http://proxy:3128"},
        {"OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "some_provider"},
        {"OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER": "some_provider"},
    ],
)
def test_proxies_and_credential_providers_keep_the_sdks_transport(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert plain_http_transport("http://collector:4318/v1/traces") is None


def test_a_host_no_proxy_exempts_gets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "collector,localhost")
    assert plain_http_transport("http://collector:4318/v1/traces") is not None
    assert plain_http_transport("http://elsewhere:4318/v1/traces") is None


def test_tls_keeps_the_sdks_transport() -> None:
    assert plain_http_transport("https://collector:4318/v1/traces") is None
    config = SignalConfig("otlp", "http/protobuf", "https://127.0.0.1:1/v1/traces", True, 1.0)
    exporter = span_exporter(config)
    assert exporter is not None
    assert type(exporter.inner._client._transport) is RequestsHTTPTransport  # type: ignore[attr-defined]


def test_spans_and_metrics_go_over_one_kept_connection_per_exporter() -> None:
    with OtlpReceiver() as receiver:
        endpoint = receiver.http_endpoint
        config = SignalConfig("otlp", "http/protobuf", f"{endpoint}/v1/traces", True, 5.0)
        exporter = span_exporter(config)
        assert exporter is not None
        transport = exporter.inner._client._transport  # type: ignore[attr-defined]
        assert type(transport) is PlainHttpTransport
        assert exporter.export(_spans(3)) is SpanExportResult.SUCCESS  # type: ignore[arg-type]
        first = transport._connection.sock
        assert exporter.export(_spans(2)) is SpanExportResult.SUCCESS  # type: ignore[arg-type]
        assert transport._connection.sock is first  # the same connection, kept
        assert sorted(span.name for span in receiver.spans()) == ["s0", "s0", "s1", "s1", "s2"]
        metrics = metric_exporter(
            SignalConfig("otlp", "http/protobuf", f"{endpoint}/v1/metrics", True, 5.0)
        )
        assert metrics is not None
        assert type(metrics.inner._client._transport) is PlainHttpTransport  # type: ignore[attr-defined]
        exporter.shutdown()
        assert transport._connection is None


@contextmanager
def _server(handle: object) -> Iterator[tuple[int, list[int]]]:
    """A raw HTTP server on 127.0.0.1: ``handle(connection, requests)`` per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            with connection:
                handle(connection, accepted)  # type: ignore[operator]

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head


def test_a_connection_the_collector_closed_costs_no_failed_export() -> None:
    def reply_then_close(connection: socket.socket, accepted: list[int]) -> None:
        _read_request(connection)
        # keep-alive as far as the client can tell, then the collector drops it
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    with _server(reply_then_close) as (port, accepted):
        transport = PlainHttpTransport()
        url = f"http://127.0.0.1:{port}/v1/traces"
        assert transport.request("POST", url, data=b"a", timeout=5).status_code == 200
        time.sleep(0.2)  # the server has closed its end by now
        stale = transport.request("POST", url, data=b"b", timeout=5)
        if stale.error is not None:  # the SDK's client retries such an error at once
            assert transport.is_connection_error(stale.error)
            stale = transport.request("POST", url, data=b"b", timeout=5)
        assert stale.status_code == 200
        assert len(accepted) == 2
        transport.close()


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    result = PlainHttpTransport().request("POST", f"http://127.0.0.1:{port}/v1/traces", timeout=2)
    assert result.status_code is None
    assert isinstance(result.error, ConnectionError)
    assert PlainHttpTransport().is_connection_error(result.error)


def test_a_collector_that_never_answers_times_out_and_is_not_retried() -> None:
    def black_hole(connection: socket.socket, accepted: list[int]) -> None:
        _read_request(connection)
        time.sleep(1.5)

    with _server(black_hole) as (port, _):
        transport = PlainHttpTransport()
        started = time.monotonic()
        result = transport.request(
            "POST", f"http://127.0.0.1:{port}/v1/traces", data=b"x", timeout=0.3
        )
        assert time.monotonic() - started < 1.2
        assert isinstance(result.error, TimeoutError)
        assert not transport.is_connection_error(result.error)
        assert transport._connection is None  # closed: the next request connects anew


def test_error_replies_keep_their_status() -> None:
    with OtlpReceiver() as receiver:
        receiver.fail_next(1)
        transport = PlainHttpTransport()
        url = f"{receiver.http_endpoint}/v1/traces"
        assert transport.request("POST", url, data=b"", timeout=5).status_code == 503
        missing = transport.request("POST", f"{receiver.http_endpoint}/v1/nothing", timeout=5)
        assert missing.status_code == 404
        assert missing.headers().get("content-length") == "0"
        transport.close()
