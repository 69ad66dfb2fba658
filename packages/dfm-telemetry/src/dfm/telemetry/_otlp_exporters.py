"""The SDK's OTLP span exporters, fed by DFM's fast encoder (``_otlp_encode``).

Only the encoding changes: the SDK exporter keeps everything else it reads from the
``OTEL_EXPORTER_OTLP_*`` variables (TLS certificates, compression, retries, headers).
Both hooks are internals of the 1.45 exporters, which dfm-telemetry pins (``~=1.45.2``);
if one is missing the exporter falls back to the SDK's own encoding (and a test fails,
so an upgrade cannot lose the fast path silently).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from ._otlp_encode import encode_trace_request

_log = logging.getLogger("dfm.telemetry")


class FastHttpSpanExporter(HttpSpanExporter):
    """OTLP/HTTP span exporter whose requests are encoded by :func:`encode_trace_request`."""

    fast = True
    """Whether the fast path is in use (False: the SDK's encoding, after a failed hook)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode ``spans`` and send them with the SDK's HTTP client (its retries, TLS)."""
        client = getattr(self, "_client", None)
        if not self.fast or client is None or getattr(self, "_shutdown", True):
            self.fast = False
            return super().export(spans)
        try:
            data = encode_trace_request(spans)
        except Exception:
            return super().export(spans)  # the SDK logs what it cannot encode
        limit = getattr(self, "_max_request_size", None)
        if limit and len(data) > limit:
            _log.warning(
                "DFM telemetry: dropped %d spans: the request is %d bytes, over the "
                "exporter's limit of %d",
                len(spans),
                len(data),
                limit,
            )
            return SpanExportResult.FAILURE
        result = client.export(data)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE


def grpc_span_exporter(**kwargs: Any) -> Any:
    """The OTLP/gRPC span exporter, with requests encoded by :func:`encode_trace_request`.

    Raises:
        ImportError: The gRPC exporter is not installed (``dfm-telemetry[grpc]``).
    """
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    class FastGrpcSpanExporter(GrpcSpanExporter):
        """OTLP/gRPC span exporter: the request is parsed from DFM's bytes (C, fast)."""

        fast = True

        def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
            request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(
                encode_trace_request(data)
            )
            return request

    return FastGrpcSpanExporter(**kwargs)
