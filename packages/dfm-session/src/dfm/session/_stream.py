"""JobStream: the application side of a job, ready for targets to reuse.

A target feeds a :class:`JobStream` with the job's tokens from any thread and ends it
when the job is over; the stream's delivery thread hands the tokens, in arrival order,
to the attached callback runner and works out the final status.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from dfm.api import TELEMETRY_PLACE_NAME, TRUSTED, DecodePolicy, ErrorToken
from dfm.runtime import telemetry

from ._callbacks import CallbackRunner, Delivery
from ._logging import LOGGER_NAME
from ._status import FailureStatus, JobStatus
from ._stream_items import END, Attach, End, UnheardTokens
from ._stream_state import TRANSITIONS, StatusTokens, StreamState
from ._threads import DELIVERY_THREADS

_BATCH = 512


class JobStream:
    """The application side of one job: its token stream, status and errors.

    Producers (any thread) call :meth:`put` for each token for the application (a
    :class:`Delivery`, or a routed package whose payload is decoded on the delivery
    thread), then :meth:`end` once no token can come any more; :meth:`terminate` ends
    the job at once, silently (cancel); :meth:`fail` ends it FAILED at once because a
    site failed or the job timed out, after delivering what was queued and an ErrorToken
    status for every frame still without one. The final status after :meth:`end`
    is FINISHED when every ``_dfm_status_`` token was a StopToken and the final one
    arrived, FAILED otherwise (the ErrorTokens are in :attr:`errors`). The attached
    runner's ``close()`` is called when the job ends or the runner is detached.

    Its life is :attr:`state`, a :class:`StreamState`, moved only along
    ``TRANSITIONS``: OPEN → ENDING | FAILING | TERMINATING; ENDING, FAILING →
    DRAINED | TERMINATING; TERMINATING → TERMINATED.

    Args:
        job_id: The job's id.
        decode_policy: How to decode package payloads.
        buffer_limit: Tokens kept while no runner is attached (oldest dropped).
        logger: Where to log.
        unpack: Turns a queued item that is not a :class:`Delivery` into one (on the
            delivery thread); default: decode it as a routed package.
    """

    def __init__(
        self,
        job_id: str,
        *,
        decode_policy: DecodePolicy = TRUSTED,
        buffer_limit: int = 10_000,
        logger: logging.Logger | None = None,
        unpack: Callable[[Any], Delivery] | None = None,
    ) -> None:
        """Create the stream; its delivery thread starts with the first token or attach."""
        self.job_id = job_id
        self._policy = decode_policy
        self._unpack = unpack or self._unpack_package
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._state = StreamState.OPEN
        self._status = JobStatus.SUBMITTED
        self._errors: list[ErrorToken | str] = []
        self._tracked = StatusTokens()
        self._failure: str | None = None  # why it fails although the sites ended
        self._fail_status: FailureStatus | None = None  # how to end the open frames then
        self._done = threading.Event()  # set on entering a final state
        self._runner: CallbackRunner | None = None
        self._buffer = UnheardTokens(job_id, buffer_limit, self._log)
        self._active = False  # a delivery thread runs this stream's loop
        self._thread_ident: int | None = None
        self._on_final: list[Callable[[JobStream], None]] = []

    # -- state ---------------------------------------------------------------------
    @property
    def state(self) -> StreamState:
        """Where the stream is in its life."""
        return self._state

    def _move(self, to: StreamState) -> None:
        """Change state (with the lock held); a move outside TRANSITIONS is a bug."""
        if to not in TRANSITIONS[self._state]:
            raise RuntimeError(
                f"JobStream {self.job_id}: {self._state.name} -> {to.name} is not a transition"
            )
        self._state = to
        if to.is_final:
            self._done.set()

    @property
    def status(self) -> JobStatus:
        """The job's status."""
        return self._status

    @property
    def errors(self) -> list[ErrorToken | str]:
        """Why the job FAILED (status ErrorTokens and reasons); empty otherwise."""
        with self._lock:
            return list(self._errors)

    @property
    def ended(self) -> bool:
        """Whether the stream accepts no more tokens (it is no longer OPEN)."""
        return not self._state.accepts_tokens

    @property
    def frame_counts(self) -> tuple[int, int]:
        """Parameter sets whose status arrived: ``(succeeded, failed)``."""
        tracked = self._tracked
        failed = len(tracked.failed_frames)
        return len(tracked.frames_with_status) - failed, failed

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job is final and every token was handed to the runner."""
        return self._done.wait(timeout)

    def add_final_callback(self, callback: Callable[[JobStream], None]) -> None:
        """Call ``callback(stream)`` once the job is final (at once if it already is)."""
        with self._lock:
            if not self._state.is_final:
                self._on_final.append(callback)
                return
        callback(self)

    def set_running(self) -> None:
        """SUBMITTED → RUNNING (no effect in any other status)."""
        with self._lock:
            if self._status is JobStatus.SUBMITTED:
                self._status = JobStatus.RUNNING

    # -- producers -----------------------------------------------------------------
    def put(self, token: Any) -> None:
        """Queue one token for the application; ignored once the stream ended."""
        if self._state.accepts_tokens:
            self._queue.put(token)
            if not self._active:
                self._ensure_thread()

    def end(self, failure: str | None = None, status: FailureStatus | None = None) -> None:
        """No more tokens will come; deliver what is queued, then set the final status.

        Args:
            failure: Why the job failed although its sites ended (e.g. a runner crash).
            status: With ``failure``: deliver ErrorToken statuses as :meth:`fail` does.
        """
        with self._lock:
            if not self._state.accepts_tokens:
                return
            self._move(StreamState.ENDING)
            self._failure = failure
            self._fail_status = status
            self._queue.put(END)
        self._ensure_thread()

    def fail(self, reason: str, status: FailureStatus | None = None) -> bool:
        """End the job FAILED now because a site failed or it timed out; tokens stop coming.

        Unlike :meth:`terminate`, the callbacks still get the tokens queued so far, then
        (with ``status``) an ErrorToken on ``_dfm_status_`` for every submitted frame
        without a status yet and for the stop frame; :attr:`errors` is ``[reason]``.

        Returns:
            False if the job had already ended, was terminated or is final.
        """
        with self._lock:
            if not self._state.accepts_tokens:
                return False
            self._move(StreamState.FAILING)
            self._failure = reason
            self._fail_status = status
            self._status, self._errors = JobStatus.FAILED, [reason]
            self._queue.put(END)
        self._ensure_thread()
        return True

    def terminate(self, status: JobStatus, reason: str | None = None) -> bool:
        """End the job now with ``status``; queued tokens are dropped, no more callbacks.

        On a job that :meth:`fail` is ending, it only stops the callbacks (the job
        stays FAILED) and returns False.

        Returns:
            False if the job was already final or terminated.
        """
        with self._lock:
            if StreamState.TERMINATING not in TRANSITIONS[self._state]:
                return False  # terminated already, or final
            failing = self._state is StreamState.FAILING
            self._move(StreamState.TERMINATING)
            if not failing:
                self._status = status
                if reason:
                    self._errors.append(reason)
            running = self._active
            if running:
                self._queue.put(END)  # wake the thread; it stops after its current callback
            runner = self._runner
        if runner is not None:
            runner.stop()  # no callback starts from now on
        if not running:
            self._finish()
        return not failing

    # -- consumers -----------------------------------------------------------------
    def attach(self, runner: CallbackRunner) -> threading.Event:
        """Deliver the job's tokens (buffered ones first) to ``runner`` from now on.

        Returns:
            An event set once the buffered tokens were handed to ``runner``.
        """
        return self._control(Attach(runner, None, threading.Event()))

    def detach(self, runner: CallbackRunner) -> None:
        """Stop delivering to ``runner``; tokens are buffered until the next attach."""
        self._control(Attach(None, runner, threading.Event()))

    def _control(self, item: Attach) -> threading.Event:
        with self._lock:
            self._queue.put(item)
        self._ensure_thread()
        return item.processed

    # -- delivery thread -------------------------------------------------------------
    def on_delivery_thread(self) -> bool:
        """Whether the caller runs on this job's delivery thread (i.e. in a callback)."""
        return self._thread_ident == threading.get_ident()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._active or self._queue.empty():
                return
            self._active = True
        DELIVERY_THREADS.run(self._run)

    def _run(self) -> None:
        self._thread_ident = threading.get_ident()
        try:
            self._loop()
        except BaseException:
            with self._lock:
                self._thread_ident = None
                self._active = False
            raise

    def _next_batch(self) -> list[Any] | None:
        """The next queued items (blocking while not final); None when the loop may stop."""
        get_nowait = self._queue.get_nowait
        if self._state.is_final:
            try:
                first = get_nowait()
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread_ident = None
                        self._active = False
                        return None
                return []
        else:
            first = self._queue.get()
        batch = [first]
        try:
            while len(batch) < _BATCH:
                batch.append(get_nowait())
        except queue.Empty:
            pass
        return batch

    def _loop(self) -> None:
        out: list[Delivery] = []
        while (batch := self._next_batch()) is not None:
            for item in batch:
                if isinstance(item, Attach):
                    if not self._state.is_terminal:
                        self._deliver(out)
                        self._switch(item)
                    else:
                        self._close_runner(item.runner)  # never attached: nothing comes
                    item.processed.set()
                elif self._state.is_terminal:
                    continue
                elif isinstance(item, End):
                    if self._failure and self._fail_status is not None:
                        out += self._fail_status.tokens(
                            self._failure,
                            self._tracked.frames_with_status,
                            self._tracked.saw_final_stop,
                        )
                    self._deliver(out)
                    self._finish()
                elif not self._state.is_final:
                    token = self._track(item)
                    if token is not None:
                        out.append(token)
            if self._state.is_terminal:
                out.clear()
                if not self._state.is_final:
                    self._finish()
                continue
            self._deliver(out)

    def _unpack_package(self, item: Any) -> Delivery:
        return Delivery.from_package(item, self._policy)

    def _track(self, item: Any) -> Delivery | None:
        if isinstance(item, Delivery):
            token = item
        else:
            try:
                token = self._unpack(item)
            except Exception as e:  # a broken package fails the job, never the delivery
                self._log.exception("Job %s: cannot unpack a token", self.job_id)
                self._tracked.broken(ErrorToken.from_exception(e))
                return None
        if token.place == TELEMETRY_PLACE_NAME:  # a site's forwarded spans: never a callback
            telemetry.forwarded_telemetry(token.from_site, token.data)
            return None
        if telemetry.ENABLED:
            telemetry.app_received(token.from_site)
        self._tracked.track(token)
        return token

    def _deliver(self, out: list[Delivery]) -> None:
        if not out:
            return
        runner = self._runner
        if runner is not None:
            try:
                runner.dispatch(out)
            except Exception:  # a runner must not raise; never let it kill delivery
                self._log.exception("Callback runner of job %s failed", self.job_id)
        else:
            self._buffer.keep(out)
        out.clear()

    def _switch(self, item: Attach) -> None:
        if item.runner is None:
            if self._runner is item.previous:  # else it was replaced, and closed then
                self._runner = None
                self._close_runner(item.previous)
            return
        if self._runner is not None and self._runner is not item.runner:
            self._log.warning(
                "Job %s: a new handle attached; the previous one stops receiving", self.job_id
            )
            self._close_runner(self._runner)
        self._runner = item.runner
        self._runner.start()
        if self._buffer:
            self._deliver(self._buffer.take())
        if self._state.is_final:  # attached after the end: it got everything there is
            self._close_runner(self._runner)
            self._runner = None

    def _close_runner(self, runner: CallbackRunner | None) -> None:
        if runner is None:
            return
        try:
            runner.close()
        except Exception:  # a runner must not raise; never let it kill delivery
            self._log.exception("Closing the callback runner of job %s failed", self.job_id)

    def _finish(self) -> None:
        runner, self._runner = self._runner, None
        self._close_runner(runner)  # no dispatch runs now, and none follows
        with self._lock:
            if self._state.is_final:
                return
            if self._state is StreamState.TERMINATING:
                self._move(StreamState.TERMINATED)  # the status was set by terminate()
            else:
                self._status, self._errors = self._tracked.outcome(self._failure)
                self._move(StreamState.DRAINED)
            callbacks, self._on_final = self._on_final, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                self._log.exception("Final callback of job %s failed", self.job_id)
