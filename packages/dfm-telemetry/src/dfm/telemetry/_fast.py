"""DFM's own spans, recorded cheaply and handed to the SDK's span processor off the hot path.

An SDK span costs 30-45 µs to start and end here (attribute validation, the sampler,
locks), about as much as the whole warm job it would measure. When DFM owns the
providers (a private provider in the application, every site process) its spans are
:class:`RecordedSpan` objects: ids, times and attributes kept as given (a few µs).
A ``RecordedSpan`` is also a ``ReadableSpan`` (as the SDK's own span is): a daemon thread
checks the attributes of finished ones (anything but plain values through the SDK's
``BoundedAttributes``) and passes them, in batches, to the span processor the SDK
provider uses (batching, OTLP export), without a second object per span.

Sampling follows the provider's sampler for root spans and the parent's decision
otherwise (``ParentBased``, the SDK's default). Spans users open with the
OpenTelemetry API go through the SDK provider as usual, with these as their parents.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes, AttributeValue

from dfm.runtime import telemetry

from ._otlp_encode import PLAIN_SPANS

MAX_PENDING = 20_000
_BATCH_DELAY = 0.05  # s: the converter wakes at most this often, so work comes in batches
_SAMPLED = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_NOT_SAMPLED = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
_UNSET = Status(StatusCode.UNSET)
_PLAIN = (str, bool, int, float)  # attribute values that need no validation
_SCALARS = frozenset(_PLAIN)
_DEFAULT_SAMPLER = ParentBased(ALWAYS_ON).get_description()  # type: ignore[no-untyped-call]


def _plain_sequence(value: Any) -> bool:
    """A list or tuple of one plain type: valid as it is (the SDK would keep a tuple)."""
    if type(value) is not list and type(value) is not tuple:
        return False
    kinds = {type(v) for v in value}
    return len(kinds) <= 1 and kinds <= set(_PLAIN)


def _checked(attributes: dict[str, Any]) -> Any:
    """Attributes as the SDK keeps them: lists as tuples, anything else validated."""
    if not all(type(v) in _PLAIN or _plain_sequence(v) for v in attributes.values()):
        return BoundedAttributes(attributes=attributes, immutable=True)  # validated
    if any(type(v) is list for v in attributes.values()):
        return {k: tuple(v) if type(v) is list else v for k, v in attributes.items()}
    return attributes


class RecordedSpan(trace.Span, ReadableSpan):
    """A recording span that keeps what it is told and, once ended, is its own SDK span.

    Like the SDK's own span it is both the API span and a ``ReadableSpan`` (the same
    fields, read by the same properties), so the converter hands it to the span
    processor as it is: no second object per span.
    """

    __slots__ = (
        "_recorder",
        "_name",
        "_context",
        "_parent",
        "_kind",
        "_attributes",
        "_events",
        "_links",
        "_status",
        "_start_time",
        "_end_time",
        "_resource",
        "_instrumentation_scope",
        "_instrumentation_info",
    )

    def __init__(
        self,
        recorder: SpanRecorder,
        scope: InstrumentationScope,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: Attributes,
        links: Sequence[Link],
        start: int | None,
    ) -> None:
        """Started now (or at ``start``, ns since the epoch)."""
        self._recorder = recorder
        self._instrumentation_scope = scope
        self._instrumentation_info = None
        self._resource = recorder.resource
        self._name = name
        self._context: SpanContext = context  # never None (ReadableSpan allows None)
        self._parent = parent
        self._kind = kind
        self._attributes: Any = dict(attributes) if attributes else {}
        self._events: list[Event] = []
        self._links = tuple(links)
        self._status = _UNSET
        self._start_time = start if start is not None else time.time_ns()
        self._end_time: int | None = None

    def end(self, end_time: int | None = None) -> None:
        """End the span (once); it goes to the processor soon, in a batch."""
        if self._end_time is None:
            self._end_time = end_time if end_time is not None else time.time_ns()
            self._recorder.finished(self)

    def get_span_context(self) -> SpanContext:
        """The span's context."""
        return self._context

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set attributes (validated later, by the SDK)."""
        if self._end_time is None:
            self._attributes.update(attributes)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute (validated later, by the SDK)."""
        if self._end_time is None:
            self._attributes[key] = value

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        """Add an event."""
        if self._end_time is None:
            self._events.append(Event(name, BoundedAttributes(attributes=attributes), timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        """Add a link to another span."""
        if self._end_time is None:
            self._links = (*self._links, Link(context, attributes))

    def update_name(self, name: str) -> None:
        """Rename the span."""
        if self._end_time is None:
            self._name = name

    def is_recording(self) -> bool:
        """Whether the span still records (until it ends)."""
        return self._end_time is None

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status (an OK status is final, as in the SDK)."""
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        self._status = status if isinstance(status, Status) else Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Add the ``exception`` event (type, message, stack trace), as the SDK does."""
        kind = type(exception)
        module = kind.__module__
        event: dict[str, Any] = {
            "exception.type": kind.__qualname__
            if module in ("builtins", None)
            else f"{module}.{kind.__qualname__}",
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def readable(self) -> ReadableSpan:
        """The SDK span: this one, its attributes checked as the SDK would keep them."""
        attributes = self._attributes
        for value in attributes.values():
            if type(value) not in _SCALARS:  # DFM's own spans have scalars and tuples only
                self._attributes = _checked(attributes)
                break
        return self


PLAIN_SPANS.add(RecordedSpan)


class SpanRecorder:
    """The converter: finished :class:`RecordedSpan` objects to the span processor.

    Args:
        processor: The span processor of DFM's SDK provider.
        resource: The process's resource.
    """

    def __init__(self, processor: SpanProcessor, resource: Resource) -> None:
        """Nothing runs before the first span ends."""
        self.processor = processor
        self.resource = resource
        self._pending: deque[RecordedSpan] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def finished(self, span: RecordedSpan) -> None:
        """A span ended (any thread): queue it, dropping it if too many are pending."""
        if len(self._pending) >= MAX_PENDING:
            telemetry.count_dropped("span_queue_full")
            return
        self._pending.append(span)
        if self._thread is None:
            self._start()
        if not self._wake.is_set():
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="dfm-telemetry-spans", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(_BATCH_DELAY)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Hand every pending span to the processor now (on the calling thread)."""
        pending, on_end = self._pending, self.processor.on_end
        while pending:
            try:
                span = pending.popleft()
            except IndexError:
                return
            try:
                on_end(span.readable())
            except Exception:  # a broken span never stops the others
                telemetry.count_dropped("invalid_span")


class RecordingTracer(trace.Tracer):
    """A tracer whose spans are :class:`RecordedSpan` objects (see the module docstring).

    Args:
        recorder: Where finished spans go.
        sampler: Decides for root spans.
        scope: The instrumentation scope of the spans.
    """

    def __init__(
        self, recorder: SpanRecorder, sampler: Sampler, scope: InstrumentationScope
    ) -> None:
        """Keep the parts."""
        self._recorder = recorder
        self._sampler = sampler
        self._scope = scope
        self._random = random.Random()
        # The SDK's default sampler samples every root span: no need to ask it (~6 µs).
        self._roots_sampled = sampler.get_description() == _DEFAULT_SAMPLER

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        """Start a span: a child of the context's span, else a new trace."""
        parent = trace.get_current_span(context).get_span_context()
        return self._start(name, parent, context, kind, attributes, links, start_time)

    def start_child(
        self, name: str, parent: SpanContext, attributes: Attributes = None
    ) -> trace.Span:
        """Start an internal span whose parent is ``parent`` (DFM's site runs, in process).

        The same span as ``start_span`` with a context holding ``parent`` would give,
        without building or reading that context.
        """
        return self._start(name, parent, None, SpanKind.INTERNAL, attributes, None, None)

    def _start(
        self,
        name: str,
        parent: SpanContext,
        context: Context | None,
        kind: SpanKind,
        attributes: Attributes,
        links: Sequence[Link] | None,
        start_time: int | None,
    ) -> trace.Span:
        span_id = self._random.getrandbits(64) or 1
        if parent.is_valid:
            trace_id, flags, parent_context = parent.trace_id, parent.trace_flags, parent
        else:
            trace_id = self._random.getrandbits(128) or 1
            parent_context = None
            if self._roots_sampled:
                flags = _SAMPLED
            else:
                result = self._sampler.should_sample(
                    context, trace_id, name, kind, attributes, links
                )
                sampled = result.decision.is_sampled()  # type: ignore[no-untyped-call]
                flags = _SAMPLED if sampled else _NOT_SAMPLED
        span_context = SpanContext(trace_id, span_id, False, flags)
        if not flags.sampled:
            return trace.NonRecordingSpan(span_context)
        return RecordedSpan(
            self._recorder,
            self._scope,
            name,
            span_context,
            parent_context,
            kind,
            attributes,
            links or (),
            start_time,
        )

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        """Start a span and make it current for the block."""
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class RecordingTracerProvider(trace.TracerProvider):
    """The tracer provider DFM gives its instrumentation when it owns the SDK provider.

    Args:
        processor: The SDK provider's span processor (shared).
        resource: The SDK provider's resource.
        sampler: The SDK provider's sampler.
    """

    def __init__(self, processor: SpanProcessor, resource: Resource, sampler: Sampler) -> None:
        """Share the SDK provider's processor, resource and sampler."""
        self.recorder = SpanRecorder(processor, resource)
        self._sampler = sampler

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> trace.Tracer:
        """A tracer recording for this provider."""
        scope = InstrumentationScope(instrumenting_module_name, instrumenting_library_version)
        return RecordingTracer(self.recorder, self._sampler, scope)
