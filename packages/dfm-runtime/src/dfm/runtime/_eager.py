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
from collections.abc import Callable, Coroutine
from typing import Any


async def _sleep0() -> None:
    await asyncio.sleep(0)


def _wake(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Drive ``coro`` to its end; ``yielded`` is what its last ``send`` produced.

    Cancelling the Task running this cancels the future ``coro`` waits on and throws
    ``CancelledError`` into ``coro``, as for a coroutine run by a Task.
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
        try:
            yielded = coro.send(None) if error is None else coro.throw(error)
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
        on_done: Called once with None when the body finished, or the exception that
            left it.
    """

    __slots__ = ("_coro", "_context", "_future", "_on_done")

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        future: asyncio.Future[Any],
        on_done: Callable[[SyncFiring, BaseException | None], None],
    ) -> None:
        """Wait for ``future``."""
        self._coro, self._context, self._on_done = coro, context, on_done
        self._future = future
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
