"""The runtime's spans and metrics with the real SDK: site run, adapter calls, user spans."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.trace import StatusCode
from telemetry_testkit import Recorded

from dfm.api import Frame
from dfm.runtime import DfmContext, Router, Site, TokenPackage, telemetry
from dfm.runtime._telemetry_run import SiteRun

OP = {"dfm.operation": "ops.Load", "dfm.adapter": "lib.Load"}


class Collect(Router):
    def __init__(self) -> None:
        self.packages: list[TokenPackage] = []

    def route(self, package: TokenPackage) -> None:
        self.packages.append(package)


def site_run(router: Router | None = None, carrier: Any = None) -> tuple[Site, Any, SiteRun]:
    ctx = DfmContext("job1", "fed", "app", "north", "1.0", router or Collect())
    context = contextvars.copy_context()
    run = SiteRun.start(context, ctx, "pipe", carrier)
    assert run is not None
    return Site(ctx), context, run


def in_frame(context: Any, frame: int, fn: Any) -> Any:
    def call() -> Any:
        telemetry.FRAME.set(Frame.start_frame(frame))
        return fn()

    return context.copy().run(call)


def by_name(recorded: Recorded) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for span in recorded.finished_spans():
        out.setdefault(span.name, []).append(span)
    return out


def test_adapter_and_user_spans_nest_under_the_site_run(recorded: Recorded) -> None:
    site, context, run = site_run()

    def adapter() -> None:
        with site.telemetry_span("ops.Load", OP) as span:
            assert span is not None and span.is_recording()
            with site.telemetry_span("read file", {"bytes": 10}) as inner:
                inner.add_event("opened")

    in_frame(context, 0, adapter)
    run.end(None)
    spans = by_name(recorded)
    (root,) = spans["dfm.site.run"]
    (call,) = spans["ops.Load"]
    (user,) = spans["read file"]
    assert call.parent.span_id == root.context.span_id
    assert user.parent.span_id == call.context.span_id
    assert {s.context.trace_id for s in (root, call, user)} == {root.context.trace_id}
    assert dict(call.attributes) == {
        **OP,
        "dfm.site": "north",
        "dfm.job.id": "job1",
        "dfm.frame": "[0]",
        "dfm.outcome": "ok",
    }
    assert root.attributes["dfm.site"] == "north" and root.attributes["dfm.outcome"] == "ok"
    assert [e.name for e in user.events] == ["opened"]


def test_a_failing_adapter_call_has_error_status_and_the_exception(recorded: Recorded) -> None:
    site, context, run = site_run()

    def adapter() -> None:
        with site.telemetry_span("ops.Load", OP):
            raise KeyError("atlantis")

    with pytest.raises(KeyError):
        in_frame(context, 2, adapter)
    run.end(None)
    (call,) = by_name(recorded)["ops.Load"]
    assert call.status.status_code is StatusCode.ERROR
    assert "KeyError" in (call.status.description or "")
    assert [e.name for e in call.events] == ["exception"]
    assert call.attributes["dfm.outcome"] == "error"
    errors = recorded.points("dfm.errors")
    assert [p.value for p in errors.values()] == [1]
    assert ("error.type", "KeyError") in next(iter(errors))


async def test_async_with_works_and_keeps_the_parent(recorded: Recorded) -> None:
    site, context, run = site_run()

    async def adapter() -> None:
        telemetry.FRAME.set(Frame.start_frame(1))
        async with site.telemetry_span("ops.Load", OP):
            await asyncio.sleep(0)
            async with site.telemetry_span("step"):
                await asyncio.sleep(0)

    await asyncio.get_running_loop().create_task(adapter(), context=context.copy())
    run.end(None)
    spans = by_name(recorded)
    (call,), (step,) = spans["ops.Load"], spans["step"]
    assert step.parent.span_id == call.context.span_id
    assert call.parent.span_id == spans["dfm.site.run"][0].context.span_id
    assert call.attributes["dfm.frame"] == "[1]"


def test_adapter_spans_past_the_limit_are_measured_not_traced(recorded: Recorded) -> None:
    site, context, run = site_run()
    for frame in range(5):
        in_frame(context, frame, lambda: site.telemetry_span("ops.Load", OP).__enter__())
    run.end(None)
    assert len(by_name(recorded).get("ops.Load", [])) == 0  # entered, never exited: not ended
    site, context, run = site_run()

    def call() -> None:
        with site.telemetry_span("ops.Load", OP):
            pass

    for frame in range(5):
        in_frame(context, frame, call)
    run.end(None)
    runs = by_name(recorded)["dfm.site.run"]
    assert len(by_name(recorded)["ops.Load"]) == 3  # max_adapter_spans=3 in the fixture
    assert runs[-1].attributes["dfm.adapter.untraced_calls"] == 2
    (histogram,) = recorded.points("dfm.adapter.duration").values()
    assert histogram.count == 5  # every call is measured
    dropped = recorded.points("dfm.telemetry.dropped")
    assert {k: p.value for k, p in dropped.items()}[(("dfm.reason", "adapter_span_limit"),)] >= 2


def test_the_site_run_joins_the_jobs_trace_and_tokens_carry_it(recorded: Recorded) -> None:
    tracer = recorded.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("dfm.job") as job:
        carrier = telemetry.current_trace_context()
    assert carrier is not None and carrier["traceparent"].startswith("00-")
    router = Collect()
    site, context, run = site_run(router, carrier)
    context.run(site.dfm_context.send, "south", "p", Frame.start_frame(0), 42)
    context.run(site.dfm_context.send, "app", "yield", Frame.start_frame(0), 1, is_yield=True)
    run.end(None)
    (root,) = by_name(recorded)["dfm.site.run"]
    assert root.parent.span_id == job.get_span_context().span_id
    assert root.context.trace_id == job.get_span_context().trace_id
    (to_site,) = [p for p in router.packages if not p.is_yield]
    assert to_site.trace_context == {
        "traceparent": f"00-{root.context.trace_id:032x}-{root.context.span_id:016x}-03"
    }
    assert all(p.trace_context is None for p in router.packages if p.is_yield)
    assert telemetry.SENT == {"north": {"south": 1, telemetry.APPLICATION: 1}}
    sent = recorded.points("dfm.tokens.sent")
    assert {k: p.value for k, p in sent.items()} == {
        (("dfm.peer", "south"), ("dfm.site", "north")): 1,
        (("dfm.peer", "application"), ("dfm.site", "north")): 1,
    }


def test_an_internal_failure_ends_the_run_with_error(recorded: Recorded) -> None:
    _, _, run = site_run(carrier={"traceparent": "not-a-traceparent"})
    run.end(RuntimeError("pool is gone"))
    (root,) = by_name(recorded)["dfm.site.run"]
    assert root.parent is None  # an unusable carrier starts a new trace, it never fails
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["dfm.outcome"] == "error"


def test_no_metric_has_a_job_id(recorded: Recorded) -> None:
    site, context, run = site_run()

    def call() -> None:
        with site.telemetry_span("ops.Load", OP):
            pass

    in_frame(context, 0, call)
    run.end(RuntimeError("x"))
    telemetry.job_ended("FINISHED", 1, 0)
    data = recorded.metrics.get_metrics_data()
    assert data is not None
    keys = {
        key
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
        for key in p.attributes
    }
    assert keys and not any("job" in key and "status" not in key for key in keys), keys


def test_adapter_durations_aggregated_in_place_export_as_a_histogram() -> None:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from dfm.telemetry._adapter_metrics import dfm_scope, with_adapter_durations

    telemetry.enable(
        TracerProvider(shutdown_on_exit=False),
        MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False),
        max_adapter_spans=1,
        adapter_histogram_in_place=True,
    )
    try:
        site, context, run = site_run()

        def call(fail: bool) -> None:
            with site.telemetry_span("ops.Load", OP):
                if fail:
                    raise ValueError("no")

        for frame in range(3):
            in_frame(context, frame, lambda: call(False))
        with pytest.raises(ValueError):
            in_frame(context, 3, lambda: call(True))
        run.end(None)
        data = with_adapter_durations(None, Resource({"a": "b"}), dfm_scope(), 1)
        assert data is not None
        (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
        assert metric.name == "dfm.adapter.duration" and metric.unit == "s"
        counts = {p.attributes["dfm.outcome"]: p.count for p in metric.data.data_points}
        assert counts == {"ok": 3, "error": 1}
        for point in metric.data.data_points:
            assert sum(point.bucket_counts) == point.count
            assert len(point.bucket_counts) == len(point.explicit_bounds) + 1
    finally:
        telemetry.disable()
        telemetry.ADAPTER_CALLS.clear()


def test_firings_name_their_frame_only_while_a_call_may_still_be_traced(
    recorded: Recorded,
) -> None:
    from dfm.runtime._telemetry_run import FRAME_PROBE

    _, _, run = site_run()  # max_adapter_spans=3 in the fixture
    assert run.names_frames()
    assert [run.take_adapter_span() for _ in range(4)] == [True, True, True, False]
    # The limit is reached: a firing starting now cannot get a traced call, in any order.
    assert not run.names_frames()
    run.end(None)
    _, _, quiet = site_run()  # a site whose adapters never open spans
    named = sum(quiet.names_frames() for _ in range(FRAME_PROBE + 500))
    assert named == FRAME_PROBE
    quiet.end(None)
