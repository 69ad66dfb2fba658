"""Finish a coroutine that an eager first step left suspended, inside a real Task.

The runner starts some fire coroutines by hand (``coro.send(None)``): about 1 µs instead
of the ~10 µs of an ``asyncio.Task``. When such a coroutine suspends, :func:`resume`
drives the rest of it from a Task: it waits for what the coroutine yielded (as the Task
itself would have) and sends the outcome back in, so asyncio futures, ``sleep(0)`` and
cancellation behave as if the coroutine had run in the Task from the start.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any


async def _sleep0() -> None:
    await asyncio.sleep(0)


def _wake(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def resume(
    coro: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context | None = None
) -> Any:
    """Drive ``coro`` to its end; ``yielded`` is what its last ``send`` produced.

    Cancelling the Task running this cancels the future ``coro`` waits on and throws
    ``CancelledError`` into ``coro``, as for a coroutine run by a Task. With
    ``context``, each step of ``coro`` runs in it (else in the Task's).
    """
    while True:
        error: BaseException | None = None
        if yielded is None:  # a bare yield (asyncio.sleep(0)): give the loop one turn
            try:
                await _sleep0()
            except BaseException as e:
                error = e
        elif asyncio.isfuture(yielded):
            yielded._asyncio_future_blocking = False
            if not yielded.done():
                # Wait for the future without taking its result: coro takes it when it
                # resumes. (A future hands out its exception's traceback only once.)
                waiter: asyncio.Future[None] = yielded.get_loop().create_future()
                yielded.add_done_callback(functools.partial(_wake, waiter))
                try:
                    await waiter
                except BaseException as e:  # this Task was cancelled
                    yielded.cancel()
                    error = e
        else:
            error = RuntimeError(f"A transition body yielded {yielded!r}, which is not a future")
        step = coro.send if error is None else coro.throw
        arg = None if error is None else error
        try:
            yielded = step(arg) if context is None else context.run(step, arg)  # type: ignore[arg-type]
        except StopIteration as stop:
            return stop.value


class SyncFiring:
    """Finishes a firing that awaits only executor futures, without an asyncio Task.

    A body whose awaits are all sync adapter calls (each an executor future) needs no
    Task: each future's completion resumes the coroutine, as a Task's step would. That
    saves a Task, its waiter and two turns of the loop per call. ``cancel()`` cancels
    the future being waited for, which throws ``CancelledError`` into the body.

    Args:
        coro: The fire coroutine, suspended on ``future``.
        context: The context the coroutine runs in.
        future: What the coroutine's first step yielded.
        on_done: Called once with the firing and None when the body finished, or the
            exception that left it.
        state: Anything the caller wants back in ``on_done`` (``firing.state``).
        frame: The same (``firing.frame``).
    """

    __slots__ = ("_coro", "_context", "_future", "_on_done", "state", "frame")

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        future: asyncio.Future[Any],
        on_done: Callable[[SyncFiring, BaseException | None], None],
        state: Any = None,
        frame: Any = None,
    ) -> None:
        """Wait for ``future``; ``state`` and ``frame`` are the runner's, kept for it."""
        self._coro, self._context, self._on_done = coro, context, on_done
        self._future = future
        self.state, self.frame = state, frame
        self._wait(future)

    def _wait(self, future: Any) -> None:
        if not asyncio.isfuture(future):
            self._coro.close()
            self._on_done(self, RuntimeError(f"A sync-only body yielded {future!r}"))
            return
        future._asyncio_future_blocking = False
        self._future = future
        future.add_done_callback(self._step)

    def _step(self, _: asyncio.Future[Any]) -> None:
        try:
            yielded = self._context.run(self._coro.send, None)
        except StopIteration:
            self._on_done(self, None)
        except BaseException as e:  # a cancellation, or a bug: the runner decides
            self._on_done(self, e)
        else:
            self._wait(yielded)

    def cancel(self) -> None:
        """Cancel the call being waited for; the body sees ``CancelledError``."""
        self._future.cancel()


_SYNC_LIMIT = 256


class SyncFirings:
    """A runner's sync-only firings: at most ``limit`` under way, the other frames wait.

    A burst of thousands of frames would otherwise leave thousands of suspended
    coroutines, futures and contexts alive at once, and the garbage collector would
    scan them again and again (this halved the throughput of sync adapters). Waiting
    frames are kept as plain tuples and started as running ones finish, in order.

    Args:
        done: ``done(state, frame, error)`` once a firing's body ended (error: what
            left it, e.g. a ``CancelledError``, else None).
        fallback: ``fallback(state, frame, coro, yielded, context)`` for a body whose
            first step yielded something other than a future (it needs a Task).
        failed: Called with an exception that escaped starting a body (a bug).
        limit: The most firings under way at once.
    """

    __slots__ = ("_done", "_fallback", "_failed", "_limit", "_running", "_backlog", "_closed")

    def __init__(
        self,
        done: Callable[[Any, Any, BaseException | None], None],
        fallback: Callable[[Any, Any, Coroutine[Any, Any, Any], Any, contextvars.Context], None],
        failed: Callable[[BaseException], None],
        limit: int = _SYNC_LIMIT,
    ) -> None:
        """No firings yet."""
        self._done, self._fallback, self._failed = done, fallback, failed
        self._limit = limit
        self._running: set[SyncFiring] = set()
        self._backlog: deque[tuple[Any, ...]] = deque()
        self._closed = False

    def fire(
        self, fire: Any, state: Any, frame: Any, values: Any, context: contextvars.Context
    ) -> None:
        """Start ``fire(frame, values)`` in ``context`` now, or once there is room."""
        if len(self._running) >= self._limit:
            self._backlog.append((fire, state, frame, values, context))
            return
        self._start(fire, state, frame, values, context)

    def _start(
        self, fire: Any, state: Any, frame: Any, values: Any, context: contextvars.Context
    ) -> None:
        coro = fire(frame, values)
        try:
            yielded = context.run(coro.send, None)
        except StopIteration:
            self._done(state, frame, None)
            return
        if not asyncio.isfuture(yielded):
            self._fallback(state, frame, coro, yielded, context)
            return
        self._running.add(SyncFiring(coro, context, yielded, self._finished, state, frame))

    def _finished(self, firing: SyncFiring, error: BaseException | None) -> None:
        self._running.discard(firing)
        if self._closed:
            return
        self._done(firing.state, firing.frame, error)
        try:
            while self._backlog and len(self._running) < self._limit and not self._closed:
                self._start(*self._backlog.popleft())
        except BaseException as e:  # generated bodies catch adapters' errors: a bug
            self._failed(e)

    def cancel(self) -> None:
        """Drop the waiting frames and cancel the firings under way."""
        self._closed = True
        self._backlog.clear()
        for firing in list(self._running):
            firing.cancel()
