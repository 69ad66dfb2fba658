"""Async firings without a Task each, until one needs it (Python 3.11).

A firing that calls an async adapter must run inside a real ``asyncio.Task``: the adapter
may use ``asyncio.timeout()``, anyio, or ``current_task()`` from its first line. Most
such firings never suspend (the adapter returns at once), and a Task each costs about a
fifth of a small firing (creation, its registration, one more turn of the loop).

:class:`AsyncFirings` runs the firings of a runner one after the other inside one
*worker* Task, each in its own context. A firing that finishes in its first step costs
no Task. The first one that suspends keeps the worker: from then on that Task is the
firing's own, for its whole life (what ``current_task()`` returned in its first step
stays its Task, and cancelling the Task cancels only it), and a new worker takes over
the waiting firings. Python 3.12 starts Tasks eagerly by itself and does not need this.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable
from typing import Any

from ._eager import resume

# First steps run in a row before the worker lets the loop run other callbacks (I/O,
# completions of other firings), as the Tasks' steps would have been interleaved.
_TURN = 32


class AsyncFirings:
    """A runner's async firings, run by worker Tasks (see the module docstring).

    Args:
        create_task: Makes a Task of the runner (named after it, so ``cancel()`` finds it).
        done: ``done(state, frame, error)`` once a firing's body ended (error: what left
            it, e.g. a ``CancelledError``, else None).
        failed: Called with an exception of ``done`` itself (a bug of the runner).
    """

    __slots__ = ("_create_task", "_done", "_failed", "_backlog", "_working")

    def __init__(
        self,
        create_task: Callable[..., asyncio.Task[Any]],
        done: Callable[[Any, Any, BaseException | None], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """No firings yet."""
        self._create_task = create_task
        self._done = done
        self._failed = failed
        self._backlog: deque[tuple[Any, Any, Any, contextvars.Context]] = deque()
        self._working = False

    def fire(self, state: Any, frame: Any, values: Any, context: contextvars.Context) -> None:
        """Run ``state.fire(frame, values)`` in ``context`` soon, in a worker Task."""
        self._backlog.append((state, frame, values, context))
        if not self._working:
            self._working = True
            self._create_task(self._work())

    def cancel(self) -> None:
        """Drop the waiting firings (the runner cancels its Tasks itself)."""
        self._backlog.clear()

    async def _work(self) -> None:
        try:
            await self._run_backlog()
        except asyncio.CancelledError:
            raise  # the runner's end: nothing more runs
        except BaseException as e:  # the runner's bookkeeping failed: a bug
            self._failed(e)

    async def _run_backlog(self) -> None:
        backlog, done = self._backlog, self._done
        turn = 0
        try:
            while backlog:
                if turn == _TURN:
                    turn = 0
                    await asyncio.sleep(0)
                    continue
                turn += 1
                state, frame, values, context = backlog.popleft()
                try:
                    coro = state.fire(frame, values)
                    yielded = context.run(coro.send, None)
                except StopIteration:
                    done(state, frame, None)
                    continue
                except BaseException as e:  # a cancellation, or a bug: the runner decides
                    done(state, frame, e)
                    continue
                # The firing suspended: this Task is its own from now on, and another one
                # takes the waiting firings.
                self._working = bool(backlog)
                if backlog:
                    self._create_task(self._work())
                error: BaseException | None = None
                try:
                    await resume(coro, yielded, context)
                except BaseException as e:
                    error = e
                done(state, frame, error)
                return
        except BaseException:
            self._working = False  # this Task still held the backlog: let a new one start
            raise
        self._working = False
