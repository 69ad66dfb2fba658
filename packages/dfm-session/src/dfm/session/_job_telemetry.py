"""The application's spans and metrics of a job: ``dfm.prepare`` and ``dfm.job``.

``dfm.job`` starts in ``Session.execute`` (a child of the caller's current span, if
any) and is current while the target starts the job, so the target ships its context
to the sites; it ends with the job's final status. Only called while telemetry is on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dfm.runtime import telemetry

from ._job import Job
from ._status import JobStatus
from ._stream import JobStream
from ._stream_job import StreamJob

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline


@contextmanager
def prepare_span(federation: str, homesite: str) -> Iterator[Any]:
    """The span of ``Session.prepare`` (errors recorded on it)."""
    state = telemetry.STATE
    if state is None:
        yield None
        return
    attributes = {"dfm.federation": federation, "dfm.homesite": homesite}
    with state.tracer.start_as_current_span("dfm.prepare", attributes=attributes) as span:
        yield span


class _JobAttributes:
    """The ``dfm.job`` attributes of the pipeline executed last, built once for it.

    A warm loop executes one prepared pipeline again and again; its attributes (a sorted
    tuple of sites among them) are the same each time. Spans copy what they are given,
    so the dict is shared. The last pipeline stays referenced until another one runs;
    one tuple holds it with its attributes, so threads executing several never mix them.
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[Any, str, dict[str, Any]] = (None, "", {})

    def of(self, prepared: PreparedPipeline, target: str) -> dict[str, Any]:
        last_prepared, last_target, attributes = self.last
        if prepared is last_prepared and target == last_target:
            return attributes
        attributes = {
            "dfm.federation": prepared.federation_name,
            "dfm.target": target,
            "dfm.sites": tuple(sorted(prepared.get_participating_sites())),
        }
        if prepared.pipeline_name:
            attributes["dfm.pipeline"] = prepared.pipeline_name
        self.last = (prepared, target, attributes)
        return attributes


_LAST = _JobAttributes()


def traced_execute(prepared: PreparedPipeline, target: str, submit: Callable[[], Job]) -> Job:
    """Run ``submit`` (the target's ``execute``) inside the job's span.

    The span ends when the job is final (on targets built on :class:`StreamJob`; on
    others, as soon as the job started).
    """
    state = telemetry.STATE
    if state is None:
        return submit()
    span = state.tracer.start_span("dfm.job", attributes=_LAST.of(prepared, target))
    token = state.attach_span(span)
    try:
        job = submit()
    except BaseException as e:
        telemetry.record_error(span, e)
        span.set_attribute("dfm.job.status", JobStatus.FAILED.name)
        span.end()
        telemetry.job_ended(JobStatus.FAILED.name, 0, 0)
        raise
    finally:
        state.detach(token)
    span.set_attribute("dfm.job.id", job.job_id)
    if isinstance(job, StreamJob):
        job.stream.add_final_callback(_Finish(span))
    else:
        span.end()
    return job


class _Finish:
    """Ends the job's span with the job's final status (a stream's final callback)."""

    __slots__ = ("span",)

    def __init__(self, span: Any) -> None:
        self.span = span

    def __call__(self, stream: JobStream) -> None:
        span = self.span
        status = stream.status
        name = status._name_  # what .name returns, without the enum property's call
        ok, failed = stream.frame_counts
        span.set_attribute("dfm.job.status", name)
        if failed:
            span.set_attribute("dfm.job.frames_failed", failed)
        if status is not JobStatus.FINISHED:
            errors = stream.errors
            state = telemetry.STATE
            if state is not None:
                reason = str(errors[0]) if errors else name
                span.set_status(state.error_status(f"{name}: {reason}"[:500]))
        span.end()
        telemetry.job_ended(name, ok, failed)
