"""``dfm.adapter.duration`` from the runtime's in-place aggregation, added to each export.

When DFM owns the meter provider, the runtime aggregates adapter call durations in
plain buckets (``dfm.runtime.telemetry.ADAPTER_CALLS``: about 1 µs a call, where an
SDK ``histogram.record`` costs 15-35 µs); this module turns them into an SDK histogram
metric (cumulative, the runtime's bounds) and adds it to what the reader exports.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from dfm.runtime import telemetry

NAME = "dfm.adapter.duration"


def adapter_durations(start_ns: int) -> Metric | None:
    """The histogram of every adapter call so far, or None before the first call."""
    with telemetry.ADAPTER_LOCK:
        snapshot = [
            (key, h.count, h.sum, h.min, h.max, list(h.buckets))
            for key, h in telemetry.ADAPTER_CALLS.items()
        ]
    if not snapshot:
        return None
    now = time.time_ns()
    points = [
        HistogramDataPoint(
            attributes={"dfm.operation": op, "dfm.site": site, "dfm.outcome": outcome},
            start_time_unix_nano=start_ns,
            time_unix_nano=now,
            count=count,
            sum=total,
            bucket_counts=buckets,
            explicit_bounds=list(telemetry.ADAPTER_BOUNDS),
            min=low,
            max=high,
        )
        for (op, site, outcome), count, total, low, high, buckets in snapshot
    ]
    return Metric(
        name=NAME,
        description="Duration of adapter calls, by operation, site and outcome",
        unit="s",
        data=Histogram(
            data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE
        ),
    )


def with_adapter_durations(
    data: MetricsData | None, resource: Resource, scope: InstrumentationScope, start_ns: int
) -> MetricsData | None:
    """``data`` with ``dfm.adapter.duration`` added to DFM's scope."""
    metric = adapter_durations(start_ns)
    if metric is None:
        return data
    resources = list(data.resource_metrics) if data is not None else []
    if not resources:
        resources = [ResourceMetrics(resource=resource, scope_metrics=[], schema_url="")]
    first = resources[0]
    scopes = list(first.scope_metrics)
    for i, sm in enumerate(scopes):
        if sm.scope.name == scope.name:
            scopes[i] = ScopeMetrics(sm.scope, [*sm.metrics, metric], sm.schema_url)
            break
    else:
        scopes.append(ScopeMetrics(scope, [metric], ""))
    resources[0] = ResourceMetrics(first.resource, scopes, first.schema_url)
    return MetricsData(resource_metrics=resources)


def dfm_scope() -> InstrumentationScope:
    """The instrumentation scope of DFM's metrics."""
    return InstrumentationScope("dfm", _version())


class AdapterDurationsExporter(MetricExporter):
    """A metric exporter that adds ``dfm.adapter.duration`` to every export.

    Args:
        inner: The real exporter.
        resource: The process's resource (for an export with no other metric).
    """

    def __init__(self, inner: MetricExporter, resource: Resource) -> None:
        """Wrap ``inner``."""
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner = inner
        self._resource = resource
        self._scope = dfm_scope()
        self._start = time.time_ns()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export with the adapter durations added."""
        data = with_adapter_durations(metrics_data, self._resource, self._scope, self._start)
        if data is None:
            return MetricExportResult.SUCCESS
        return self.inner.export(data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Flush the real exporter."""
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Shut the real exporter down."""
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dfm-runtime")
    except PackageNotFoundError:
        return "unknown"
