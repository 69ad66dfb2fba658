"""The runtime's telemetry hooks: spans and metrics through the OpenTelemetry API only.

Every hook in the runtime, the session and the targets is guarded by one check,
``if _telemetry.ENABLED:``, so telemetry that is off costs one attribute read per hook;
nothing of OpenTelemetry is imported before :func:`enable`. The SDK side (the
``dfm-telemetry`` distribution) chooses the tracer and meter providers and calls
:func:`enable`; this module never configures an SDK.

Counts on hot paths (tokens per link) are plain ints read by observable counters at
collection time: an SDK ``counter.add`` costs about as much as a whole token send.
"""

from __future__ import annotations

import bisect
import contextvars
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import Span, Status, TracerProvider

    from ._context import DfmContext
    from ._otel_context import ContextOps
    from ._package import TokenPackage
    from ._telemetry_run import SiteRun

ENABLED = False
"""Whether DFM's instrumentation is on in this process (the one check of every hook)."""

TRANSITION_SPANS = False
"""Whether each firing of a transition gets its own span (opt-in: costly)."""

APPLICATION = "application"
"""The ``dfm.peer`` of yields: tokens for the application rather than a site's net."""

RUN: contextvars.ContextVar[SiteRun | None] = contextvars.ContextVar("dfm_site_run", default=None)
"""The site run a firing belongs to (set in the runner's context)."""

FRAME: contextvars.ContextVar[Any] = contextvars.ContextVar("dfm_frame", default=None)
"""The frame of the running firing (set by the firing wrapper while telemetry is on)."""


def _peer_counts() -> defaultdict[str, int]:
    return defaultdict(int)


# Tokens per link, site -> peer -> count (nested, so that counting allocates nothing: a
# tuple key per token was a GC-tracked object per token; defaultdicts, so that counting
# is two subscripts and no call). A site's counts are only ever changed on its own
# event-loop thread, so no lock is needed.
SENT: defaultdict[str, defaultdict[str, int]] = defaultdict(_peer_counts)
RECEIVED: defaultdict[str, defaultdict[str, int]] = defaultdict(_peer_counts)
ADAPTER_BOUNDS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0)
"""Bucket bounds (s) of ``dfm.adapter.duration``."""


class DurationHistogram:
    """Adapter call durations of one (operation, site, outcome), aggregated in place.

    An SDK ``histogram.record`` costs 15-35 µs here, more than a fast adapter call;
    when DFM owns the meter provider, dfm-telemetry exports these as the
    ``dfm.adapter.duration`` histogram instead (cumulative, bounds :data:`ADAPTER_BOUNDS`).
    """

    __slots__ = ("count", "sum", "min", "max", "buckets")

    def __init__(self) -> None:
        """Empty."""
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.buckets = [0] * (len(ADAPTER_BOUNDS) + 1)

    def add(self, seconds: float) -> None:
        """One call (under :data:`ADAPTER_LOCK`)."""
        self.count += 1
        self.sum += seconds
        if seconds < self.min:
            self.min = seconds
        if seconds > self.max:
            self.max = seconds
        self.buckets[bisect.bisect_left(ADAPTER_BOUNDS, seconds)] += 1


ADAPTER_CALLS: dict[tuple[str, str, str], DurationHistogram] = {}
"""(operation, site, outcome) -> durations, when recorded in place."""
ADAPTER_LOCK = threading.Lock()  # sync adapters end on pool threads

# Jobs by final status and frames by outcome (application side, under _ENDED_LOCK).
JOBS: dict[str, int] = {}
FRAMES: dict[str, int] = {"ok": 0, "error": 0}
_ENDED_LOCK = threading.Lock()


class TelemetryBackend(Protocol):
    """What the SDK side provides besides the providers (implemented by dfm-telemetry)."""

    forwards: bool
    """Whether this is a forwarding site (else ``drain_site_telemetry`` returns None)."""

    def drain_site_telemetry(self, trace_id: int) -> dict[str, bytes] | None:
        """A forwarding site: what to send to the application at the end of a site run.

        Returns:
            OTLP-encoded requests by signal (``"traces"``: the finished spans of the
            trace, ``"metrics"``: the process's metrics), or None when the site exports
            them itself.
        """

    def export_forwarded(self, signal: str, payload: bytes, site: str) -> None:
        """The application: export an OTLP request a site forwarded (never blocks)."""

    def shutdown(self, timeout: float) -> None:
        """Flush and stop exporting, waiting at most ``timeout`` seconds."""


class _State:
    """The tracer, the instruments and the options while telemetry is on."""

    def __init__(
        self,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        max_adapter_spans: int,
        backend: TelemetryBackend | None,
        adapter_histogram_in_place: bool,
    ) -> None:
        from opentelemetry.trace import Status, StatusCode

        from . import _trace_context
        from ._version import runtime_version

        version = runtime_version()
        self.tracer = tracer_provider.get_tracer("dfm", version)
        # DFM's own tracer (dfm-telemetry's, when it owns the provider) starts a child
        # straight from its parent's SpanContext: no OpenTelemetry context to read.
        self.start_child: Callable[[str, Any, dict[str, Any]], Span] | None = getattr(
            self.tracer, "start_child", None
        )
        # Bound once: an import statement per job costs more than the call it imports.
        ops = context_ops()
        self.attach_span, self.detach, self.current_span = (
            ops.attach_span,
            ops.detach,
            ops.current_span,
        )
        self.inject, self.extract = _trace_context.inject, _trace_context.extract
        self.trace_parent: type = _trace_context.TraceParent
        self.error_status: Callable[[str], Status] = lambda message: Status(
            StatusCode.ERROR, message
        )
        self.max_adapter_spans = max_adapter_spans
        self.backend = backend
        # a backend written before ``forwards`` existed is asked at every site run, as then
        self.forwards = backend is not None and getattr(backend, "forwards", True)
        self.adapter_histogram_in_place = adapter_histogram_in_place
        meter = meter_provider.get_meter("dfm", version)
        meter.create_observable_counter(
            "dfm.jobs",
            callbacks=[_counts_callback(JOBS, "dfm.job.status")],
            unit="{job}",
            description="Jobs that ended, by final status",
        )
        meter.create_observable_counter(
            "dfm.frames",
            callbacks=[_counts_callback(FRAMES, "dfm.outcome")],
            unit="{frame}",
            description="Parameter sets (frames) whose status reached the application",
        )
        # In place: dfm-telemetry exports ADAPTER_CALLS under this name itself.
        self.adapter_duration = (
            None
            if adapter_histogram_in_place
            else meter.create_histogram(
                "dfm.adapter.duration",
                unit="s",
                description="Duration of adapter calls, by operation, site and outcome",
                explicit_bucket_boundaries_advisory=list(ADAPTER_BOUNDS),
            )
        )
        self.errors = meter.create_counter(
            "dfm.errors", unit="{error}", description="Failed adapter calls and site runs"
        )
        self.dropped = meter.create_counter(
            "dfm.telemetry.dropped",
            unit="{item}",
            description="Telemetry DFM could not keep (spans over limits, full queues)",
        )
        meter.create_observable_counter(
            "dfm.tokens.sent",
            callbacks=[_links_callback(SENT)],
            unit="{token}",
            description="Tokens a site sent to another site or the application",
        )
        meter.create_observable_counter(
            "dfm.tokens.received",
            callbacks=[_links_callback(RECEIVED)],
            unit="{token}",
            description="Tokens a site or the application received from another site",
        )
        self._attributes: dict[tuple[str, ...], dict[str, str]] = {}

    def attributes(self, *pairs: str) -> dict[str, str]:
        """A shared attribute dict for ``(key, value, key, value, ...)`` (metrics only)."""
        found = self._attributes.get(pairs)
        if found is None:
            found = dict(zip(pairs[::2], pairs[1::2], strict=True))
            self._attributes[pairs] = found
        return found


def _links_callback(counts: Mapping[str, Mapping[str, int]]) -> Any:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        return [
            Observation(n, {"dfm.site": site, "dfm.peer": peer})
            for site, peers in list(counts.items())
            for peer, n in list(peers.items())
        ]

    return observe


def _counts_callback(counts: dict[str, int], key: str) -> Any:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        return [Observation(n, {key: value}) for value, n in list(counts.items()) if n]

    return observe


STATE: _State | None = None


def enable(
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    *,
    transition_spans: bool = False,
    max_adapter_spans: int = 1000,
    backend: TelemetryBackend | None = None,
    adapter_histogram_in_place: bool = False,
) -> None:
    """Switch DFM's instrumentation on in this process (called by dfm-telemetry).

    Args:
        tracer_provider: Where DFM's spans go.
        meter_provider: Where DFM's metrics go.
        transition_spans: A span for every firing of a transition (debugging only).
        max_adapter_spans: Adapter calls traced per site run; later calls are only
            measured (metrics) and counted on the site run span.
        backend: Forwarding of spans between sites and the application, if any.
        adapter_histogram_in_place: Aggregate adapter durations in
            :data:`ADAPTER_CALLS` (the SDK side exports them) instead of recording each
            call into the meter provider's histogram.
    """
    global ENABLED, TRANSITION_SPANS, STATE
    if max_adapter_spans < 0:
        raise ValueError(f"max_adapter_spans must be at least 0, not {max_adapter_spans}")
    STATE = _State(
        tracer_provider, meter_provider, max_adapter_spans, backend, adapter_histogram_in_place
    )
    TRANSITION_SPANS = transition_spans
    ENABLED = True


def disable() -> None:
    """Switch DFM's instrumentation off (the providers are left as they are)."""
    global ENABLED, TRANSITION_SPANS, STATE
    ENABLED = False
    TRANSITION_SPANS = False
    STATE = None


def context_ops() -> ContextOps:
    """OpenTelemetry's context operations as DFM's hooks do them (see ``_otel_context``)."""
    from ._otel_context import context_ops as ops

    return ops()


def backend() -> TelemetryBackend | None:
    """The SDK side's backend while telemetry is on."""
    state = STATE
    return state.backend if state is not None else None


# -- trace context ------------------------------------------------------------------
_CARRIER_KEYS = ("traceparent", "tracestate")
_MAX_CARRIER_VALUE = 512


def current_trace_context() -> dict[str, str] | None:
    """The current span as W3C trace context headers, or None (telemetry off, no span).

    A target calls this where a job starts and ships the result with the job's
    creation to every site (``JobController(..., trace_context=...)``). A site in
    this process gets the job's span without any text to parse; across a process
    boundary the result is a plain ``dict`` of headers.
    """
    state = STATE
    if state is None:
        return None
    return state.inject(state.current_span()) or None


def clean_carrier(carrier: object) -> dict[str, str] | None:
    """The W3C headers of an untrusted carrier: known keys, short string values only."""
    if type(carrier) is not dict and not isinstance(carrier, Mapping):
        return None
    cleaned = {
        key: value
        for key in _CARRIER_KEYS
        if isinstance(value := carrier.get(key), str) and len(value) <= _MAX_CARRIER_VALUE
    }
    return cleaned if "traceparent" in cleaned else None


def extract_context(carrier: object) -> Any:
    """The OpenTelemetry context of an untrusted carrier (None if it has none).

    A carrier :func:`current_trace_context` made in this process gives its context
    without parsing (see ``_trace_context.TraceParent``).
    """
    state = STATE
    if state is not None and type(carrier) is state.trace_parent:
        return carrier.context  # type: ignore[attr-defined]
    cleaned = clean_carrier(carrier)
    if state is None or cleaned is None:
        return None
    return state.extract(cleaned)


# -- tokens ----------------------------------------------------------------------------
def on_send(ctx: DfmContext, package: TokenPackage) -> None:
    """A routed token: count it on its link; a token for a site gets the trace context.

    (Yields need none: the application holds the job's span itself.)
    """
    site = ctx.this_site
    if package.is_yield:
        peer = APPLICATION
    else:
        run = RUN.get()
        if run is not None:
            package.trace_context = run.carrier_for_send()
        peer = package.target_site
    SENT[site][peer] += 1


def on_receive(site: str, package: TokenPackage) -> None:
    """A token from another site arrived at ``site``."""
    RECEIVED[site][package.source_site] += 1


def app_received(source_site: str) -> None:
    """A yield arrived at the application."""
    RECEIVED[APPLICATION][source_site] += 1


FORWARDED_SIGNALS = ("traces", "metrics")


def forwarded_telemetry(source_site: str, data: Any) -> None:
    """What a site forwarded to ``__telemetry__``: exported by the backend, else dropped.

    ``data`` is untrusted: a dict of signal name to OTLP request bytes.
    """
    state = STATE
    if state is None or state.backend is None:
        return
    if not isinstance(data, dict) or not data:
        state.dropped.add(1, state.attributes("dfm.reason", "invalid_forward"))
        return
    for signal, payload in data.items():
        if signal in FORWARDED_SIGNALS and isinstance(payload, bytes):
            state.backend.export_forwarded(signal, payload, source_site)
        else:
            state.dropped.add(1, state.attributes("dfm.reason", "invalid_forward"))


def count_dropped(reason: str, n: int = 1) -> None:
    """Telemetry that could not be kept (``reason`` is a fixed word, never an id)."""
    state = STATE
    if state is not None and n > 0:
        state.dropped.add(n, state.attributes("dfm.reason", reason))


def job_ended(status: str, frames_ok: int, frames_failed: int) -> None:
    """A job reached its final status (application side): plain counts, read at collection."""
    with _ENDED_LOCK:
        JOBS[status] = JOBS.get(status, 0) + 1
        FRAMES["ok"] += frames_ok
        FRAMES["error"] += frames_failed


def record_error(span: Span, error: BaseException) -> None:
    """ERROR status with the exception's type and message, and the exception event."""
    state = STATE
    span.record_exception(error)
    if state is not None:
        span.set_status(state.error_status(f"{type(error).__name__}: {error}"))
