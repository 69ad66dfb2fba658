"""StreamJob: a Job handle on a JobStream; a target subclasses it with two methods."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from dfm.api import ErrorToken

from ._callbacks import CallbackRunner
from ._job import FramedParams, InputFramer, Job
from ._status import JobStatus
from ._stream import JobStream


class StreamJob(Job):
    """A :class:`Job` handle on a :class:`JobStream`; a target implements two methods.

    ``_submit(framed)`` sends framed parameter sets (or the stop frame) to the sites
    without blocking; ``_cancel()`` stops the job's sites. Everything else — status,
    waiting, validation and numbering of parameter sets, detach — is done here.

    Args:
        stream: The job's stream (shared by every handle on the job).
        framer: The job's parameter numbering (shared), or None if it cannot send.
        callback_runner: This handle's runner; it is attached to the stream.
    """

    def __init__(
        self,
        stream: JobStream,
        framer: InputFramer | None,
        callback_runner: CallbackRunner | None = None,
    ) -> None:
        """Attach the runner (if any) to the stream."""
        super().__init__(stream.job_id, callback_runner=callback_runner)
        self._stream = stream
        self._framer = framer
        self._detached = False
        self._attached: threading.Event | None = None
        if callback_runner is not None:
            self._attached = stream.attach(callback_runner)

    @property
    def stream(self) -> JobStream:
        """The job's stream."""
        return self._stream

    def _check_attached(self) -> None:
        if self._detached:
            raise RuntimeError(
                f"This handle of job {self.job_id!r} was detached; use "
                "Session.reattach(job_id) to get a new one"
            )

    @property
    def errors(self) -> list[ErrorToken | str]:
        """Why the job FAILED, this handle's callback errors included; empty otherwise."""
        return [*self._stream.errors, *self._callback_failures()]

    def get_status(self) -> JobStatus:
        """The job's current status; FAILED when one of this handle's callbacks raised."""
        self._check_attached()
        status = self._stream.status
        if status is JobStatus.FINISHED and self._callback_failures():
            return JobStatus.FAILED
        return status

    def wait_until_finished(self, timeout: float | None = None) -> bool:
        """Wait for a final status and for this handle's callbacks (see :class:`Job`)."""
        self._check_attached()
        if self._stream.on_delivery_thread():
            raise RuntimeError(
                "wait_until_finished() was called from a callback of the same job, which "
                "would wait for itself; wait from another thread"
            )
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if not self._stream.wait(timeout):
            return False
        runner, attached = self._callback_runner, self._attached
        if runner is None or attached is None:
            return True

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        return attached.wait(remaining()) and runner.wait_idle(remaining())

    def _framer_or_raise(self) -> InputFramer:
        self._check_attached()
        if self._framer is None:
            raise RuntimeError(f"This handle of job {self.job_id!r} cannot send input")
        if self._stream.status.is_final() and not self._framer.stopped:
            raise RuntimeError(
                f"Job {self.job_id!r} is {self._stream.status.name}; it takes no more input"
            )
        return self._framer

    def send_input_params(
        self, input_params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """Send more parameter sets (validated like ``execute``; see :class:`Job`)."""
        self._framer_or_raise().send(input_params, self._submit)

    def send_stop_frame(self) -> None:
        """Send the stop frame (once; see :class:`Job`)."""
        self._framer_or_raise().send_stop(self._submit)

    def cancel(self) -> None:
        """Abort the job: ABORTED now, no more callbacks; the target stops the sites.

        A job already failing (a site failed, a timeout) stays FAILED; its remaining
        callbacks are dropped.
        """
        self._check_attached()
        if self._stream.terminate(JobStatus.ABORTED):
            self._cancel()

    def detach(self) -> None:
        """Stop this handle's callbacks; the job keeps running (idempotent)."""
        if self._detached:
            return
        self._detached = True
        if self._callback_runner is not None:
            self._stream.detach(self._callback_runner)
        self._callback_runner = None

    @abstractmethod
    def _submit(self, framed: FramedParams) -> None:
        """Send framed parameter sets or the stop frame to the sites; must not block.

        Raise ValueError (before sending anything) for values that cannot be sent.
        """

    @abstractmethod
    def _cancel(self) -> None:
        """Stop the job's sites; the stream is already terminated (ABORTED)."""
