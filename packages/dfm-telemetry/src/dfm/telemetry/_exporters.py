"""The SDK exporters DFM builds from its configuration, behind a circuit breaker.

A collector that is down or black-holed costs one export timeout; then the breaker
drops batches (counted in ``dfm.telemetry.dropped``) for a cool-down instead of
paying a timeout, with retries, for every batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from dfm.runtime import telemetry

from ._config import SignalConfig

COOL_DOWN = 30.0
_log = logging.getLogger("dfm.telemetry")


def _grpc_missing(signal: str) -> ValueError:
    return ValueError(
        f"OTLP over gRPC was asked for {signal} (OTEL_EXPORTER_OTLP_PROTOCOL=grpc), but the "
        "gRPC exporter is not installed: pip install 'dfm-telemetry[grpc]', or use "
        "http/protobuf"
    )


def _grpc_target(endpoint: str) -> tuple[str, bool]:
    insecure = not endpoint.startswith("https://")
    for scheme in ("http://", "https://"):
        endpoint = endpoint.removeprefix(scheme)
    return endpoint.rstrip("/"), insecure


class Breaker:
    """Opens after a failed export; while open, exports are refused at once.

    Args:
        signal: ``traces`` or ``metrics`` (for the log line).
        cool_down: Seconds the breaker stays open.
    """

    def __init__(self, signal: str, cool_down: float = COOL_DOWN) -> None:
        """Closed."""
        self._signal = signal
        self._cool_down = cool_down
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._logged = False

    def allows(self) -> bool:
        """Whether an export may be tried now."""
        return time.monotonic() >= self._open_until

    def record(self, ok: bool) -> None:
        """The outcome of a tried export."""
        with self._lock:
            if ok:
                self._open_until = 0.0
                self._logged = False
                return
            self._open_until = time.monotonic() + self._cool_down
            if not self._logged:
                self._logged = True
                _log.warning(
                    "DFM telemetry: exporting %s failed; dropping %s for %.0f s (then retrying)",
                    self._signal,
                    self._signal,
                    self._cool_down,
                )


class BreakerSpanExporter(SpanExporter):
    """A span exporter that stops trying for a while after a failure.

    Two callers share it (the SDK's batch processor with users' spans, DFM's recorder
    with its own), and an exporter's ``export`` is never called concurrently (the SDK's
    contract): calls take turns.

    Args:
        inner: The real exporter.
        breaker: The breaker (shared with nothing else).
    """

    def __init__(self, inner: SpanExporter, breaker: Breaker) -> None:
        """Wrap ``inner``."""
        self.inner = inner
        self._breaker = breaker
        self._turn = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export, unless the breaker is open (then the spans are dropped and counted)."""
        if not self._breaker.allows():
            telemetry.count_dropped("export_failed", len(spans))
            return SpanExportResult.FAILURE
        try:
            with self._turn:
                result = self.inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        self._breaker.record(result is SpanExportResult.SUCCESS)
        if result is not SpanExportResult.SUCCESS:
            telemetry.count_dropped("export_failed", len(spans))
        return result

    def shutdown(self) -> None:
        """Shut the real exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the real exporter."""
        return self.inner.force_flush(timeout_millis)


class BreakerMetricExporter(MetricExporter):
    """A metric exporter that stops trying for a while after a failure.

    Args:
        inner: The real exporter.
        breaker: The breaker.
    """

    def __init__(self, inner: MetricExporter, breaker: Breaker) -> None:
        """Wrap ``inner``, with its temporality and aggregation preferences."""
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner = inner
        self._breaker = breaker

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export, unless the breaker is open."""
        if not self._breaker.allows():
            return MetricExportResult.FAILURE
        try:
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:
            result = MetricExportResult.FAILURE
        self._breaker.record(result is MetricExportResult.SUCCESS)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Flush the real exporter."""
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Shut the real exporter down."""
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _transport(config: SignalConfig) -> dict[str, Any]:
    """The OTLP/HTTP exporter's ``_transport`` argument: DFM's plain one where it fits."""
    from ._http_transport import plain_http_transport

    transport = plain_http_transport(config.endpoint)
    return {} if transport is None else {"_transport": transport}


def span_exporter(config: SignalConfig) -> SpanExporter | None:
    """The span exporter ``config`` asks for, or None for ``none``.

    Raises:
        ValueError: gRPC asked for without the ``[grpc]`` extra installed.
    """
    if config.exporter == "none":
        return None
    if config.exporter == "console":
        return ConsoleSpanExporter()
    inner: SpanExporter
    if config.protocol == "grpc":
        try:
            from ._otlp_exporters import grpc_span_exporter

            target, insecure = _grpc_target(config.endpoint)
            inner = grpc_span_exporter(
                endpoint=target,
                insecure=insecure,
                timeout=config.timeout,
                headers=config.headers or None,
            )
        except ImportError:
            raise _grpc_missing("traces") from None
    else:
        from ._otlp_exporters import FastHttpSpanExporter

        inner = FastHttpSpanExporter(
            endpoint=config.endpoint,
            timeout=config.timeout,
            headers=config.headers or None,
            **_transport(config),
        )
    return BreakerSpanExporter(inner, Breaker("traces"))


def metric_exporter(config: SignalConfig) -> MetricExporter | None:
    """The metric exporter ``config`` asks for, or None for ``none``.

    Raises:
        ValueError: gRPC asked for without the ``[grpc]`` extra installed.
    """
    if config.exporter == "none":
        return None
    if config.exporter == "console":
        return ConsoleMetricExporter()
    inner: MetricExporter
    if config.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetricExporter,
            )
        except ImportError:
            raise _grpc_missing("metrics") from None
        target, insecure = _grpc_target(config.endpoint)
        inner = GrpcMetricExporter(
            endpoint=target,
            insecure=insecure,
            timeout=config.timeout,
            headers=config.headers or None,
        )
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        inner = OTLPMetricExporter(
            endpoint=config.endpoint,
            timeout=config.timeout,
            headers=config.headers or None,
            **_transport(config),
        )
    return BreakerMetricExporter(inner, Breaker("metrics"))
