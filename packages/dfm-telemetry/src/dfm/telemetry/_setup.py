"""Switching DFM's instrumentation on: which providers, which exporters, bounded shutdown.

In the user's application DFM is a library: it uses the providers the application
passed or installed globally, else private ones built from the ``OTEL_*`` variables,
and never replaces the global providers. In a site process DFM started itself, DFM
owns the process: it builds the providers from the environment and installs them
globally, so spans users open with the OpenTelemetry API in adapters are exported too.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from dfm.runtime import telemetry

from ._adapter_metrics import AdapterDurationsExporter
from ._config import TelemetryConfig
from ._exporters import metric_exporter, span_exporter
from ._fast import RecordingTracerProvider
from ._forward import ForwardedExporter, SiteMetricsSnapshot, SiteSpanBuffer

_log = logging.getLogger("dfm.telemetry")
_lock = threading.Lock()


class Backend:
    """What the runtime asks of the SDK side while telemetry is on (``TelemetryBackend``).

    Args:
        providers: The providers DFM created (and so shuts down).
        site_spans: A forwarding site's span buffer.
        site_metrics: A forwarding site's metrics.
        forwarded: The application's exporter of forwarded requests.
        recording: DFM's own cheap spans, when DFM owns the SDK provider.
    """

    def __init__(
        self,
        providers: list[Any],
        site_spans: SiteSpanBuffer | None = None,
        site_metrics: SiteMetricsSnapshot | None = None,
        forwarded: ForwardedExporter | None = None,
        recording: RecordingTracerProvider | None = None,
    ) -> None:
        """Keep the parts."""
        self._recording = recording
        self._providers = providers
        self._site_spans = site_spans
        self._site_metrics = site_metrics
        self._forwarded = forwarded
        self._shut = False
        self.forwards = site_spans is not None

    def drain_site_telemetry(self, trace_id: int) -> dict[str, bytes] | None:
        """A forwarding site's spans of one trace, and its metrics now."""
        if self._site_spans is None:
            return None
        if self._recording is not None:
            self._recording.recorder.flush()  # the run's spans, into the buffer now
        out = {}
        spans = self._site_spans.drain(trace_id)
        if spans is not None:
            out["traces"] = spans
        if self._site_metrics is not None:
            collected = self._site_metrics.collect()
            if collected is not None:
                out["metrics"] = collected
        return out or None

    def export_forwarded(self, signal: str, payload: bytes, site: str) -> None:
        """Export a request a site forwarded (queued; never blocks)."""
        if self._forwarded is not None:
            self._forwarded.submit(signal, payload)

    def shutdown(self, timeout: float) -> None:
        """Flush and shut down DFM's own providers, waiting at most ``timeout`` seconds.

        The work runs on a daemon thread: a dead collector cannot hold the process.
        """
        if self._shut:
            return
        self._shut = True

        def work() -> None:
            if self._recording is not None:
                self._recording.recorder.flush()
            if self._forwarded is not None:
                self._forwarded.wait_idle(timeout)
                self._forwarded.close()
            for provider in self._providers:
                try:
                    provider.shutdown()
                except Exception:
                    _log.debug("DFM telemetry: shutting down %r failed", provider, exc_info=True)

        thread = threading.Thread(target=work, name="dfm-telemetry-shutdown", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            _log.info("DFM telemetry: gave up flushing after %.1f s (collector down?)", timeout)


def _resource(config: TelemetryConfig, site: str | None) -> Resource:
    attributes: dict[str, Any] = {}
    detected = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(detected.attributes.get("service.name", "")).startswith("unknown_service"):
        attributes["service.name"] = config.service_name
    if site is not None:
        attributes["dfm.site"] = site
    return detected.merge(Resource(attributes))


def _tracer_provider(
    config: TelemetryConfig, resource: Resource, processor: SpanProcessor | None = None
) -> tuple[TracerProvider, RecordingTracerProvider]:
    """DFM's SDK provider (for users' spans) and the recording one (for DFM's), one processor."""
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    direct = None  # the exporter DFM's own spans go to without the SDK's processor
    if processor is None:
        exporter = span_exporter(config.traces)
        if exporter is None:
            processor = SpanProcessor()  # no-op: spans are neither kept nor exported
        elif config.traces.exporter == "console":
            processor = SimpleSpanProcessor(exporter)
        else:
            batch = config.batch
            processor = BatchSpanProcessor(
                exporter,
                max_queue_size=batch.max_queue_size,
                schedule_delay_millis=batch.schedule_delay * 1000,
                max_export_batch_size=batch.max_export_batch_size,
            )
            direct = exporter
    provider.add_span_processor(processor)
    recording = RecordingTracerProvider(
        processor, provider.resource, provider.sampler, direct, config.batch
    )
    return provider, recording


def _meter_provider(
    config: TelemetryConfig, resource: Resource, extra: MetricReader | None = None
) -> MeterProvider:
    readers: list[MetricReader] = [] if extra is None else [extra]
    exporter = metric_exporter(config.metrics)
    if exporter is not None:
        readers.append(
            PeriodicExportingMetricReader(
                AdapterDurationsExporter(exporter, resource),
                export_timeout_millis=config.metrics.timeout * 1000,
            )
        )
    return MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)


def _is_configured(provider: object) -> bool:
    """Whether a global provider was installed by the application (not the API's default)."""
    name = type(provider).__name__
    return not (name.startswith("_Proxy") or name.startswith("Proxy") or name.startswith("NoOp"))


def setup(
    *,
    role: str = "application",
    site: str | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> None:
    """Switch DFM's instrumentation on in this process (the ``dfm.telemetry`` entry point).

    Called by ``dfm.runtime.start_telemetry``; users call :func:`enable` instead.

    Args:
        role: ``"application"`` or ``"site"`` (a site process DFM started).
        site: The site of a site process.
        tracer_provider: The application's tracer provider, if it passed one.
        meter_provider: The application's meter provider, if it passed one.

    Raises:
        ValueError: An ``OTEL_*`` or ``DFM_TELEMETRY_*`` variable DFM cannot use.
    """
    with _lock:
        if telemetry.ENABLED:
            return
        config = TelemetryConfig.from_env()
        if config.sdk_disabled:
            return
        resource = _resource(config, site if role == "site" else None)
        providers: list[Any] = []
        owns_meter = True
        backend: Backend
        recording: RecordingTracerProvider | None = None
        if role == "site":
            site_spans = site_metrics = None
            if config.site_forwards():
                site_spans, site_metrics = SiteSpanBuffer(), SiteMetricsSnapshot(resource)
                tracer_provider, recording = _tracer_provider(config, resource, site_spans)
                meter_provider = MeterProvider(
                    metric_readers=[site_metrics.reader], resource=resource, shutdown_on_exit=False
                )
            else:
                tracer_provider, recording = _tracer_provider(config, resource)
                meter_provider = _meter_provider(config, resource)
            providers = [tracer_provider, meter_provider]
            # DFM owns this process: users' own OpenTelemetry spans go the same way.
            if not _is_configured(trace.get_tracer_provider()):
                trace.set_tracer_provider(tracer_provider)
            if not _is_configured(metrics.get_meter_provider()):
                metrics.set_meter_provider(meter_provider)
            backend = Backend(providers, site_spans, site_metrics, recording=recording)
        else:
            if tracer_provider is None:
                current = trace.get_tracer_provider()
                if _is_configured(current):
                    tracer_provider = current
                else:
                    tracer_provider, recording = _tracer_provider(config, resource)
                    providers.append(tracer_provider)
            if meter_provider is not None:
                owns_meter = False
            else:
                current_meter = metrics.get_meter_provider()
                if _is_configured(current_meter):
                    meter_provider = current_meter
                    owns_meter = False
                else:
                    meter_provider = _meter_provider(config, resource)
                    providers.append(meter_provider)
            forwarded = ForwardedExporter(config.traces, config.metrics, config.forward_queue)
            backend = Backend(providers, forwarded=forwarded, recording=recording)
        telemetry.enable(
            recording if recording is not None else tracer_provider,
            meter_provider,
            transition_spans=config.transition_spans,
            max_adapter_spans=config.max_adapter_spans,
            backend=backend,
            adapter_histogram_in_place=owns_meter,
        )
        atexit.register(backend.shutdown, config.shutdown_timeout)


def enable(tracer_provider: Any = None, meter_provider: Any = None) -> bool:
    """Switch DFM's instrumentation on in this application (without ``DFM_TELEMETRY``).

    Args:
        tracer_provider: Where DFM's spans go; default: the global provider if the
            application installed one, else a private one built from ``OTEL_*``.
        meter_provider: Where DFM's metrics go; same default.

    Returns:
        Whether telemetry is on (False if ``OTEL_SDK_DISABLED=true``).

    Raises:
        ValueError: An ``OTEL_*`` or ``DFM_TELEMETRY_*`` variable DFM cannot use.
    """
    setup(role="application", tracer_provider=tracer_provider, meter_provider=meter_provider)
    return telemetry.ENABLED


def shutdown(timeout: float | None = None) -> None:
    """Flush DFM's telemetry and switch it off (bounded by ``timeout`` seconds).

    Args:
        timeout: Seconds to wait at most; default ``DFM_TELEMETRY_SHUTDOWN_TIMEOUT``.
    """
    from dfm.runtime import shutdown_telemetry

    if timeout is None:
        timeout = TelemetryConfig.from_env().shutdown_timeout
    shutdown_telemetry(timeout)
