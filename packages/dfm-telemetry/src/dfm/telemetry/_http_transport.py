"""OTLP/HTTP requests over one kept-alive ``http.client`` connection, for plain-HTTP collectors.

The SDK's OTLP/HTTP exporters post through a pluggable transport (``requests`` by
default). One post of a batch through ``requests`` costs about 3.4 million
instructions here (its session merges environment settings and scans ``os.environ``
for proxies twice per request, then urllib3 takes a pooled connection), about as much as
a tenth of the jobs whose spans the batch holds. :class:`PlainHttpTransport` sends the
same request on a standing ``http.client`` connection for an eighth of that. It is only
used where it changes nothing but the cost: an ``http://`` endpoint that no proxy
variable applies to and no credential provider supplies a session for. TLS, proxies
and custom sessions keep the SDK's transport. The SDK's client around the transport
still does compression, headers, timeouts and retries.
"""

from __future__ import annotations

import http.client
import os
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.exporter.http.transport._base import BaseHTTPResult, BaseHTTPTransport

_CREDENTIAL_PROVIDERS = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_METRICS_CREDENTIAL_PROVIDER",
)


@dataclass(frozen=True, slots=True)
class PlainHttpResult(BaseHTTPResult):
    """The response (or the error) of one request."""

    body: bytes = b""
    header_fields: Message | None = field(default=None, compare=False)

    def content(self) -> bytes:
        """The response body."""
        return self.body

    def headers(self) -> Mapping[str, str]:
        """The response headers (case-insensitive)."""
        return self.header_fields if self.header_fields is not None else {}  # type: ignore[return-value]


class PlainHttpTransport(BaseHTTPTransport):
    """The SDK's HTTP transport interface on one standing connection per host and port.

    A connection the collector closed (or a failed request) is opened again on the next
    request; the SDK's client retries connection errors once at once, so a connection
    that went stale between batches costs no failed export.
    """

    def __init__(self) -> None:
        """No connection before the first request."""
        # An exporter's calls never overlap (the SDK's contract); ``close`` may come from
        # another thread (shutdown) while a request is under way.
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._address: tuple[str, int] | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> BaseHTTPResult:
        """Send one request; an error is returned in the result, never raised."""
        parts = urlsplit(url)
        address = (parts.hostname or "", parts.port or 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        with self._lock:
            connection = self._connection
            if connection is None or self._address != address:
                if connection is not None:
                    connection.close()
                connection = http.client.HTTPConnection(*address, timeout=timeout)
                self._connection, self._address = connection, address
            try:
                if connection.sock is None:
                    connection.timeout = timeout
                    try:
                        connection.connect()
                    except OSError as error:  # refused, unreachable, timed out connecting
                        raise ConnectionError(
                            f"cannot connect to {address[0]}:{address[1]}: {error}"
                        ) from error
                else:
                    connection.sock.settimeout(timeout)
                connection.request(method, path, body=data, headers=headers or {})
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._connection = None
                return PlainHttpResult(error=error)
            if response.will_close:
                connection.close()
            return PlainHttpResult(
                status_code=response.status,
                reason=response.reason,
                body=body,
                header_fields=response.msg,
            )

    def is_connection_error(self, exception: Exception | None) -> bool:
        """Whether the request failed for the connection (retried), not for a timeout."""
        # As the requests transport classifies them: refused, reset or closed
        # connections and broken responses are retried; a read that timed out is not.
        return isinstance(exception, ConnectionError | http.client.HTTPException)

    def close(self) -> None:
        """Close the standing connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def plain_http_transport(endpoint: str) -> PlainHttpTransport | None:
    """A :class:`PlainHttpTransport` for ``endpoint``, or None where the SDK's is needed.

    None for anything but ``http://``, for a host a proxy variable applies to
    (``HTTP_PROXY``, ``ALL_PROXY``, minus ``NO_PROXY``), and when a credential provider
    is configured (it supplies a ``requests`` session).
    """
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname:
        return None
    if any(os.environ.get(name) for name in _CREDENTIAL_PROVIDERS):
        return None
    proxies: dict[str, Any] = urllib.request.getproxies_environment()
    if (proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(
        parts.hostname
    ):
        return None
    return PlainHttpTransport()
