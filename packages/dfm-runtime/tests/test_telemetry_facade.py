"""The runtime's telemetry hooks with the OpenTelemetry API only (no SDK here).

Off: no-op, nothing imported, nothing counted or attached. On (with the API's no-op
providers): every hook runs without failing, and untrusted trace context is refused.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from runtime_testkit import Harness, one_op_net

from dfm.api import Frame
from dfm.runtime import (
    DfmContext,
    Site,
    child_environment,
    current_trace_context,
    start_telemetry,
    telemetry,
    telemetry_requested,
)
from dfm.runtime._telemetry_switch import ENTRY_POINT_GROUP

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, **kw):
        with self.telemetry_span("ops.Echo", {"dfm.operation": "ops.Echo"}) as span:
            async with self.telemetry_span("inner", {"k": 1}) as inner:
                self.seen = (span, inner)
            return kw.get("x")
"""


@pytest.fixture
def noop_telemetry() -> Iterator[None]:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    telemetry.enable(NoOpTracerProvider(), NoOpMeterProvider())
    yield
    telemetry.disable()
    telemetry.SENT.clear()
    telemetry.RECEIVED.clear()


def test_importing_the_runtime_imports_no_opentelemetry() -> None:
    code = "import sys, dfm.runtime; print(sorted(m for m in sys.modules if 'opentelemetry' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_off_telemetry_span_is_a_shared_no_op() -> None:
    assert telemetry.ENABLED is False
    site = Site(DfmContext("j", "fed", "app", "s1", "1.0", router=None))  # type: ignore[arg-type]
    first = site.telemetry_span("x", {"a": 1})
    with first as span:
        assert span is None
    async with first as span:
        assert span is None
    assert site.telemetry_span("y") is first


async def test_off_a_job_carries_no_trace_context_and_counts_nothing(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    await h.run([{"x": 1}, {"x": 2}])
    assert {f: v for f, v in h.on("yield").items()} == {
        Frame.start_frame(0): 1,
        Frame.start_frame(1): 2,
    }
    assert all(p.trace_context is None for p in h.router.routed)
    assert telemetry.SENT == {} and telemetry.RECEIVED == {}
    assert current_trace_context() is None
    assert h.controllers["app"].site.seen == (None, None)


async def test_on_every_hook_runs_and_links_are_counted(
    make_federation: Any, noop_telemetry: None
) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)}, trace_context={"traceparent": "garbage"})
    await h.run([{"x": 1}, {"x": 2}, {"x": 3}])
    assert len(h.on("yield")) == 3
    # 3 yields + 4 status tokens (3 frames and the stop frame) to the application
    assert telemetry.SENT == {"app": {telemetry.APPLICATION: 7}}


@pytest.mark.parametrize(
    "carrier",
    [
        None,
        "traceparent",
        ["traceparent"],
        {"traceparent": 5},
        {"traceparent": "00-" + "a" * 10_000},
        {"tracestate": "k=v"},
        {"traceparent": None, "tracestate": ["x"]},
    ],
)
def test_untrusted_carriers_are_refused(carrier: object) -> None:
    assert telemetry.clean_carrier(carrier) is None


def test_a_clean_carrier_keeps_only_w3c_headers() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    cleaned = telemetry.clean_carrier({"traceparent": parent, "tracestate": "a=b", "x": "y"})
    assert cleaned == {"traceparent": parent, "tracestate": "a=b"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"DFM_TELEMETRY": "1"}, True),
        ({"DFM_TELEMETRY": "on"}, True),
        ({"DFM_TELEMETRY": "0"}, False),
        ({"DFM_TELEMETRY_ENABLED": "true"}, True),
        ({"DFM_TELEMETRY": "1", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_telemetry_requested(env: dict[str, str], expected: bool) -> None:
    assert telemetry_requested(env) is expected


def test_a_bad_switch_value_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="DFM_TELEMETRY='maybe'.*use 1"):
        telemetry_requested({"DFM_TELEMETRY": "maybe"})


def test_child_environment_follows_this_process(noop_telemetry: None) -> None:
    child = child_environment({"PATH": "/bin"})
    assert child == {"PATH": "/bin", "DFM_TELEMETRY": "1"}
    assert child_environment({"DFM_TELEMETRY": "1"}) is None


def test_child_environment_when_off() -> None:
    assert child_environment({}) is None
    assert child_environment({"DFM_TELEMETRY": "1"}) == {"DFM_TELEMETRY": "0"}


def test_start_without_dfm_telemetry_installed_warns_and_stays_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib.metadata

    from dfm.runtime import _telemetry_switch

    def no_entry_points(group: str) -> list[Any]:
        assert group == ENTRY_POINT_GROUP
        return []

    monkeypatch.setattr(importlib.metadata, "entry_points", no_entry_points)
    monkeypatch.setattr(_telemetry_switch, "_warned", False)
    assert start_telemetry("application") is False
    assert start_telemetry("application") is False
    assert telemetry.ENABLED is False
    warnings = [r for r in caplog.records if "dfm-telemetry is not installed" in r.message]
    assert len(warnings) == 1


def test_in_this_process_the_parent_is_handed_over_without_text(noop_telemetry: None) -> None:
    import copy
    import json
    import pickle

    from opentelemetry import context, trace

    parent = trace.NonRecordingSpan(
        trace.SpanContext(0xABC, 0xDEF, False, trace.TraceFlags(trace.TraceFlags.SAMPLED))
    )
    token = context.attach(trace.set_span_in_context(parent))
    try:
        carrier = telemetry.current_trace_context()
    finally:
        context.detach(token)
    assert carrier == {"traceparent": f"00-{0xABC:032x}-{0xDEF:016x}-01"}
    assert trace.get_current_span(telemetry.extract_context(carrier)) is parent  # no parsing
    # across a process boundary it is the plain headers, parsed as any others
    for copied in (pickle.loads(pickle.dumps(carrier)), copy.copy(carrier)):
        assert type(copied) is dict and copied == carrier
        remote = trace.get_current_span(telemetry.extract_context(copied)).get_span_context()
        assert remote.is_remote and (remote.trace_id, remote.span_id) == (0xABC, 0xDEF)
    assert json.loads(json.dumps(carrier)) == carrier
