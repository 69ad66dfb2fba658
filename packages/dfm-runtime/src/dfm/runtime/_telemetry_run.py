"""The span of one site's run of a job, and what the net runner hooks into it.

A :class:`SiteRun` exists only while telemetry is on. The runner starts it in its own
``contextvars.Context`` (every firing runs in a copy of that context, so adapter spans
find their parent there), wraps the fire methods so adapter spans know their frame,
and ends it when the runner ends. A site that forwards its spans sends them to the
application's ``__telemetry__`` place just before it reports its end.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dfm.api import TELEMETRY_PLACE_NAME, Frame

from . import _telemetry
from ._package import TokenPackage

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ._context import DfmContext
    from ._net import TransitionSpec

FireMethod = Callable[[Frame, Sequence[Any]], Coroutine[Any, Any, None]]
FRAME_PROBE = 1000
"""Firings of a site run that name their frame before any adapter span asked for one."""


class SiteRun:
    """The ``dfm.site.run`` span of one job on one site.

    Args:
        ctx: The job's context on the site.
        pipeline: The pipeline's name, if it has one.
        span: The started span.
    """

    __slots__ = (
        "ctx",
        "site",
        "job_id",
        "span",
        "_max_spans",
        "_firings",
        "_carrier",
        "_adapter_spans",
        "_untraced",
    )

    def __init__(self, ctx: DfmContext, span: Span) -> None:
        """Keep the span; nothing else starts here."""
        self.ctx = ctx
        self.site = ctx.this_site
        self.job_id = ctx.job_id
        self.span = span
        state = _telemetry.STATE
        self._max_spans = state.max_adapter_spans if state is not None else 0
        self._firings = 0
        self._carrier: dict[str, str] | None = None
        self._adapter_spans = 0
        self._untraced = 0

    @classmethod
    def start(
        cls,
        context: contextvars.Context,
        ctx: DfmContext,
        pipeline: str | None,
        trace_context: Mapping[str, str] | None,
    ) -> SiteRun | None:
        """Start the span (child of ``trace_context``) and make it current in ``context``."""
        state = _telemetry.STATE
        if state is None:
            return None
        # Few attributes: each costs validation and encoding; the job span has the rest.
        attributes = {"dfm.site": ctx.this_site, "dfm.job.id": ctx.job_id}
        if type(trace_context) is state.trace_parent and state.start_child is not None:
            # the job's span in this process: a child of its SpanContext, nothing parsed
            span_context = trace_context.span_context  # type: ignore[union-attr]
            span = state.start_child("dfm.site.run", span_context, attributes)
        else:
            parent = _telemetry.extract_context(trace_context)
            span = state.tracer.start_span("dfm.site.run", context=parent, attributes=attributes)
        run = cls(ctx, span)
        context.run(_enter, state.attach_span, span, run)
        return run

    def names_frames(self) -> bool:
        """Whether the next firing puts its frame in its context, for its adapter span.

        Only while the run may still trace adapter calls (one that starts later is
        measured only, whatever the order its call comes in), and past the first
        :data:`FRAME_PROBE` firings only on a site whose adapters open spans at all (as
        generated code does): a contextvar set per firing costs a context and a node
        for the garbage collector, for nothing on a site that never names them.
        """
        if self._adapter_spans >= self._max_spans:
            return False
        self._firings += 1
        return self._firings <= FRAME_PROBE or self._adapter_spans > 0

    def take_adapter_span(self) -> bool:
        """Whether the next adapter call gets a span (the run's limit is not reached)."""
        if self._adapter_spans < self._max_spans:
            self._adapter_spans += 1
            return True
        self._untraced += 1
        return False

    def carrier_for_send(self) -> dict[str, str] | None:
        """The trace context a routed token carries: the current span's.

        Without transition spans the current span of every send is the run's, so its
        headers are computed once.
        """
        if _telemetry.TRANSITION_SPANS:
            return _telemetry.current_trace_context()
        if self._carrier is None:
            self._carrier = _telemetry.current_trace_context() or {}
        return self._carrier or None

    def end(self, error: BaseException | None) -> None:
        """End the span (ERROR on an internal failure) and forward the run's spans."""
        span = self.span
        if self._untraced:
            span.set_attribute("dfm.adapter.untraced_calls", self._untraced)
            _telemetry.count_dropped("adapter_span_limit", self._untraced)
        if error is not None:
            _telemetry.record_error(span, error)
            state = _telemetry.STATE
            if state is not None:
                state.errors.add(
                    1, state.attributes("dfm.site", self.site, "error.type", type(error).__name__)
                )
        span.set_attribute("dfm.outcome", "ok" if error is None else "error")
        span.end()
        state = _telemetry.STATE
        if state is not None and state.forwards:
            self._forward()

    def _forward(self) -> None:
        backend = _telemetry.backend()
        if backend is None:
            return
        try:
            payload = backend.drain_site_telemetry(self.span.get_span_context().trace_id)
        except Exception:
            self.ctx.logger.exception("Site %s: cannot encode its spans", self.site)
            return
        if not payload:
            return
        from dfm.api import encode_value

        package = TokenPackage(
            self.job_id,
            self.site,
            None,
            self.ctx.homesite,
            TELEMETRY_PLACE_NAME,
            True,
            Frame.stop_frame(),
            encode_value(payload),
        )
        try:
            self.ctx.router.route(package)
        except Exception:
            self.ctx.logger.exception("Site %s: cannot forward its spans", self.site)


def _enter(attach_span: Callable[[Any], object], span: Any, run: SiteRun) -> None:
    """In the runner's context: the run's span is current, and the run is known."""
    attach_span(span)
    _telemetry.RUN.set(run)


def traced_fire(fire: FireMethod, spec: TransitionSpec, site: str) -> FireMethod:
    """A fire method with a span per firing (``DFM_TELEMETRY_TRANSITION_SPANS=1``)."""
    attributes = {"dfm.site": site, "dfm.transition": spec.name}

    async def fire_in_span(frame: Frame, values: Sequence[Any]) -> None:
        _telemetry.FRAME.set(frame)
        state = _telemetry.STATE
        if state is None:
            await fire(frame, values)
            return
        with state.tracer.start_as_current_span(
            "dfm.transition", attributes={**attributes, "dfm.frame": str(frame)}
        ):
            await fire(frame, values)

    return fire_in_span
