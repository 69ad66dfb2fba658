"""The callback dispatchers: where and when a job's callbacks run."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence

from dfm.runtime import close_event_loop

from ._callbacks import (
    CallbackDispatcher,
    CallbackRunner,
    Delivery,
    DfmDataCallback,
)
from ._logging import LOGGER_NAME

_LOG = logging.getLogger(LOGGER_NAME)
_SYNC_BATCH = 1000


class _DirectRunner(CallbackRunner):
    """Calls the callbacks on the dispatching thread; async ones on a private event loop."""

    def __init__(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> None:
        super().__init__(default_callback, place_callbacks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def dispatch(self, tokens: Sequence[Delivery]) -> None:
        if self.kind != "async":
            self.call_sync(tokens)
            return
        if self._closed:
            _LOG.warning("Dropping %d token(s): the callback runner is closed", len(tokens))
            return
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            # Each batch runs to completion here, so the job's callbacks stay in order.
            self._loop.run_until_complete(self.call_async(tokens))
        except Exception:  # e.g. called on a thread whose own event loop is running
            _LOG.exception("Cannot run %d async callback(s) inline", len(tokens))

    def close(self) -> None:
        """Close the private event loop (tasks the callbacks left behind are cancelled)."""
        self._closed = True
        loop, self._loop = self._loop, None
        if loop is not None:
            try:
                close_event_loop(loop)
            except Exception:
                _LOG.exception("Error while closing a callback event loop")


class DirectDispatcher(CallbackDispatcher):
    """Calls callbacks on the job's delivery thread (the default), sync or async.

    Callbacks of one job run one at a time, in arrival order; a slow callback delays
    that job's later tokens but no other job. Async callbacks (all of a job's callbacks
    must be of one kind) are each run to completion on a private event loop of the
    job, on the same thread; the loop is closed when the job ends.
    """

    def create_runner(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> CallbackRunner:
        """A runner calling the callbacks inline.

        Raises:
            ValueError: The callbacks mix sync and async functions.
        """
        return _DirectRunner(default_callback, place_callbacks)


class _LoopRunner(CallbackRunner):
    """Runs callbacks in order on an event loop, one drain at a time per job."""

    def __init__(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(default_callback, place_callbacks)
        self._loop = loop
        self._pending: deque[Delivery] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._idle = threading.Event()
        self._idle.set()

    def dispatch(self, tokens: Sequence[Delivery]) -> None:
        with self._lock:
            self._pending.extend(tokens)
            if self._scheduled or not self._pending:
                return
            self._scheduled = True
            self._idle.clear()
        try:
            self._loop.call_soon_threadsafe(self._kick)
        except RuntimeError:  # the loop is closed: nobody can run these callbacks
            _LOG.warning("Dropping %d token(s): the callback event loop is closed", len(tokens))
            with self._lock:
                self._pending.clear()
                self._scheduled = False
                self._idle.set()

    def stop(self) -> None:
        """Drop the tokens whose callbacks have not run yet."""
        super().stop()
        with self._lock:
            self._pending.clear()

    def _take(self, limit: int | None = None) -> list[Delivery]:
        with self._lock:
            if self.stopped:
                self._pending.clear()
            count = len(self._pending) if limit is None else min(limit, len(self._pending))
            batch = [self._pending.popleft() for _ in range(count)]
            if not batch:
                self._scheduled = False
                self._idle.set()
            return batch

    def _kick(self) -> None:
        if self.kind == "async":
            self._loop.create_task(self._drain_async())
            return
        batch = self._take(_SYNC_BATCH)
        if batch:
            self.call_sync(batch)
            self._loop.call_soon(self._kick)  # let other jobs' callbacks interleave

    async def _drain_async(self) -> None:
        while batch := self._take():
            await self.call_async(batch)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the loop to run every dispatched callback (not on the loop's own thread)."""
        if _on_loop_thread(self._loop):
            return True  # waiting here would block the callbacks themselves
        return self._idle.wait(timeout)


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class ThreadDispatcher(CallbackDispatcher):
    """Runs callbacks on one dedicated thread of its own, sync or async.

    The thread runs an event loop: sync callbacks are called on it, async ones are
    awaited on it. Each job's callbacks run in arrival order; different jobs
    interleave. The thread starts with the first job and is a daemon; :meth:`close`
    stops it.
    """

    def __init__(self, name: str = "dfm-callbacks") -> None:
        """Create the dispatcher; its thread starts lazily.

        Args:
            name: The name of the callback thread.
        """
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=self._run, args=(loop,), name=self._name)
                thread.daemon = True
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    @property
    def thread(self) -> threading.Thread | None:
        """The callback thread, once started."""
        return self._thread

    def create_runner(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> CallbackRunner:
        """A runner that runs the callbacks on this dispatcher's thread."""
        return _LoopRunner(default_callback, place_callbacks, self._ensure_loop())

    def close(self, timeout: float = 5.0) -> None:
        """Stop the callback thread after the callbacks already queued on it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not threading.current_thread():
                thread.join(timeout)


class AsyncioDispatcher(CallbackDispatcher):
    """Runs callbacks on an asyncio event loop of the application.

    Each job's callbacks run in arrival order on the loop. Nothing runs while the loop
    is blocked: from a coroutine, wait with
    ``await asyncio.to_thread(job.wait_until_finished, timeout)``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Use ``loop``, or the loop running when each job is executed.

        Args:
            loop: The event loop to run callbacks on.
        """
        self._loop = loop

    def create_runner(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> CallbackRunner:
        """A runner that schedules the callbacks on the loop.

        Raises:
            ValueError: No loop was given and none is running, or callbacks mix kinds.
        """
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ValueError(
                    "AsyncioDispatcher has no event loop: pass loop=... or execute the "
                    "pipeline from inside a running event loop"
                ) from None
        return _LoopRunner(default_callback, place_callbacks, loop)


class ManualCallbackRunner(CallbackRunner):
    """Queues tokens until the application calls :meth:`process_pending`."""

    def __init__(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> None:
        """Keep the callbacks; tokens wait in a thread-safe queue."""
        super().__init__(default_callback, place_callbacks)
        self._pending: deque[Delivery] = deque()
        self._lock = threading.Lock()

    def dispatch(self, tokens: Sequence[Delivery]) -> None:
        """Queue the tokens."""
        with self._lock:
            self._pending.extend(tokens)

    def has_pending(self) -> bool:
        """Whether tokens are waiting to be processed."""
        return bool(self._pending)

    def _take(self) -> list[Delivery]:
        with self._lock:
            batch = [] if self.stopped else list(self._pending)
            self._pending.clear()
        return batch

    def process_pending(self) -> int:
        """Call the sync callbacks of every queued token on this thread.

        Returns:
            The number of tokens processed.

        Raises:
            ValueError: The callbacks are async; use :meth:`process_pending_async`.
        """
        if self.kind == "async":
            raise ValueError("The callbacks are async: use `await process_pending_async()`")
        batch = self._take()
        self.call_sync(batch)
        return len(batch)

    async def process_pending_async(self) -> int:
        """Await the async callbacks of every queued token.

        Returns:
            The number of tokens processed.

        Raises:
            ValueError: The callbacks are sync; use :meth:`process_pending`.
        """
        if self.kind == "sync":
            raise ValueError("The callbacks are sync: use `process_pending()`")
        batch = self._take()
        await self.call_async(batch)
        return len(batch)


class ManualDispatcher(CallbackDispatcher):
    """Queues tokens; the application runs callbacks with ``job.callback_runner.process_pending()``.

    ``wait_until_finished`` does not wait for queued tokens to be processed.
    """

    def create_runner(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> ManualCallbackRunner:
        """A runner that queues tokens until processed."""
        return ManualCallbackRunner(default_callback, place_callbacks)
