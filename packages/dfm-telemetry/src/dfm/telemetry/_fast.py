"""DFM's own spans, recorded cheaply and handed to the SDK's span processor off the hot path.

An SDK span costs 30-45 µs to start and end here (attribute validation, the sampler,
locks), about as much as the whole warm job it would measure. When DFM owns the
providers (a private provider in the application, every site process) its spans are
:class:`RecordedSpan` objects: ids, times and attributes kept as given (a few µs).
A ``RecordedSpan`` is also a ``ReadableSpan`` (as the SDK's own span is): a daemon thread
(``_recorder.SpanRecorder``) checks the attributes of finished ones (anything but plain
values through the SDK's ``BoundedAttributes``) and exports them in batches, or passes
them to the span processor the SDK provider uses, without a second object per span.

Sampling follows the provider's sampler for root spans and the parent's decision
otherwise (``ParentBased``, the SDK's default). Spans users open with the
OpenTelemetry API go through the SDK provider as usual, with these as their parents.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.span import DEFAULT_TRACE_STATE
from opentelemetry.util.types import Attributes, AttributeValue

from dfm.runtime import telemetry

from ._config import BatchConfig
from ._otlp_encode import PLAIN_SPANS
from ._recorder import SpanRecorder

_SAMPLED = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_NOT_SAMPLED = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
_UNSET = Status(StatusCode.UNSET)
_STATE = DEFAULT_TRACE_STATE
_new_context = tuple.__new__
_PLAIN = (str, bool, int, float)  # attribute values that need no validation
_SCALARS = frozenset(_PLAIN)
_DEFAULT_SAMPLER = ParentBased(ALWAYS_ON).get_description()  # type: ignore[no-untyped-call]
# Tuples of plain values already checked, by identity (a job's sites: one tuple for
# every job of a prepared pipeline); each is kept, so its id is not reused.
_CHECKED_TUPLES: dict[int, tuple[Any, ...]] = {}
_CHECKED_MAX = 256


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
        self._events: list[Event] | tuple[()] = ()  # no list of its own until an event
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
            events = self._events
            if isinstance(events, tuple):
                events = self._events = []
            events.append(Event(name, BoundedAttributes(attributes=attributes), timestamp))

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
            # DFM's own spans have scalars and tuples only
            if type(value) not in _SCALARS and _CHECKED_TUPLES.get(id(value)) is not value:
                self._attributes = checked = _checked(attributes)
                if type(checked) is dict:
                    _remember_tuples(checked)
                break
        return self


def _remember_tuples(attributes: dict[str, Any]) -> None:
    if len(_CHECKED_TUPLES) >= _CHECKED_MAX:
        _CHECKED_TUPLES.clear()
    for value in attributes.values():
        if type(value) is tuple:
            _CHECKED_TUPLES[id(value)] = value


PLAIN_SPANS.add(RecordedSpan)


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
        self._current_context = telemetry.context_ops().current_context
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
        current = (context if context is not None else self._current_context()).get(_SPAN_KEY)
        if type(current) is RecordedSpan:  # DFM's own: its context without the API's checks
            parent = current._context
        elif current is None:  # no current span: a new trace
            parent = INVALID_SPAN_CONTEXT
        else:
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
        # A SpanContext is a tuple (trace id, span id, is remote, flags, trace state,
        # is valid); its properties are a Python call each.
        span_id = self._random.getrandbits(64) or 1
        if parent[5]:
            trace_id, flags, state, parent_context = parent[0], parent[3], parent[4], parent
        else:
            state = _STATE
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
                if result.trace_state is not None:
                    state = result.trace_state
        # SpanContext's own __new__ checks the ids (valid here): the tuple it would build
        span_context = _new_context(SpanContext, (trace_id, span_id, False, flags, state, True))
        if not flags & TraceFlags.SAMPLED:
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
        exporter: The exporter of ``processor``, when DFM built both: DFM's spans are
            exported to it directly (see ``_recorder``).
        batch: The batching of those exports.
    """

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource,
        sampler: Sampler,
        exporter: SpanExporter | None = None,
        batch: BatchConfig | None = None,
    ) -> None:
        """Share the SDK provider's processor, resource and sampler (and its exporter)."""
        self.recorder = SpanRecorder(processor, resource, exporter, batch)
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
