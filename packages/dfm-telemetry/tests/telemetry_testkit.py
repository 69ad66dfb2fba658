"""Helpers of the dfm-telemetry tests (a module: conftest.py puts this folder on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Recorded:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    recording: Any = None  # a RecordingTracerProvider, or None: the SDK's own spans

    def finished_spans(self) -> list[Any]:
        if self.recording is not None:
            self.recording.recorder.flush()
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> dict[tuple[tuple[str, object], ...], Any]:
        data = self.metrics.get_metrics_data()
        found = {}
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        for p in m.data.data_points:
                            found[tuple(sorted(p.attributes.items()))] = p
        return found
