"""Fixtures: SDK providers with in-memory export, switched on for one test."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dfm.runtime import telemetry
from dfm.telemetry._fast import RecordingTracerProvider

sys.path.insert(0, str(Path(__file__).parent))

from telemetry_testkit import Recorded  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no pytest-asyncio needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


@pytest.fixture(params=["sdk", "recording"])
def recorded(request: pytest.FixtureRequest) -> Iterator[Recorded]:
    """DFM's instrumentation on, with explicit providers (the global ones untouched).

    ``sdk``: an application's SDK provider; ``recording``: DFM's own cheap spans, as
    when DFM owns the provider.
    """
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(processor)
    recording = None
    if request.param == "recording":
        recording = RecordingTracerProvider(
            processor, tracer_provider.resource, tracer_provider.sampler
        )
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    telemetry.enable(recording or tracer_provider, meter_provider, max_adapter_spans=3)
    yield Recorded(exporter, reader, tracer_provider, meter_provider, recording)
    telemetry.disable()
    telemetry.SENT.clear()
    telemetry.RECEIVED.clear()
    telemetry.JOBS.clear()
    telemetry.ADAPTER_CALLS.clear()
    telemetry.FRAMES.update(ok=0, error=0)
