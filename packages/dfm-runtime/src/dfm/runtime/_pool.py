"""A pool of daemon threads for a site's sync adapters, with coalesced completions.

A sync adapter call costs little; handing it to another thread and back used to cost
much more (a ``concurrent.futures.Future``, a wake-up of the event loop per result).
Here a call is an item of a work queue that the pool's threads take one by one, and
its result goes to a per-loop completion queue: the loop is woken once for every
batch of results, however many there are, and sets them on plain asyncio futures.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

_STALL = 0.02  # seconds without any call taken before another thread is started


class _Completions:
    """Results for one event loop; the loop is woken once per batch."""

    __slots__ = ("loop", "items", "lock", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: deque[tuple[asyncio.Future[Any], bool, Any]] = deque()
        self.lock = threading.Lock()
        self.scheduled = False

    def push(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        with self.lock:
            self.items.append((future, ok, value))
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self.drain)
        except RuntimeError:  # the loop is closed: nobody waits for these any more
            pass

    def drain(self) -> None:
        with self.lock:
            items, self.items = self.items, deque()
            self.scheduled = False
        for future, ok, value in items:
            if future.done():  # cancelled while the call ran
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def _outcome(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, Any]:
    try:
        return True, fn(*args, **kwargs)
    except StopIteration as e:
        # asyncio futures refuse StopIteration: the awaiting frame would hang.
        error = RuntimeError(f"The call raised StopIteration: {e}")
        error.__cause__ = e
        return False, error
    except BaseException as e:  # an adapter's sys.exit() is its call's error, nothing more
        return False, e


class DaemonThreadPool(Executor):
    """Runs sync adapter calls on up to ``max_workers`` daemon threads, started on demand.

    Unlike ``ThreadPoolExecutor`` its threads are daemons: an adapter stuck in
    synchronous code (which no one can interrupt) does not keep the process from
    exiting. A cancelled job's stuck call keeps its thread until it returns; the pool
    is large so that a few such calls do not starve the site.

    Calls from an event loop (:meth:`run_soon`) get plain asyncio futures, completed
    in batches. A new thread starts when the work waits and no thread is idle: at
    once for the first, else when no call was taken for ``_STALL`` (the busy threads
    are blocked). A burst of quick calls, which the GIL serializes anyway, is served by
    the threads there are: a thread more would only add switches between them.

    Args:
        max_workers: The most threads the pool starts.
        name: The prefix of the threads' names.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        """Create the pool; threads start with the work."""
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max = max_workers
        self._name = name
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._work: deque[tuple[Any, ...]] = deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._signalled = 0
        self._taken = 0  # items taken by threads, ever: progress
        self._watched = False
        self._completions: dict[asyncio.AbstractEventLoop, _Completions] = {}
        self._shutdown = False

    # -- submitting ------------------------------------------------------------------
    def run_soon(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> asyncio.Future[T]:
        """Run ``fn(*args, **kwargs)`` on a pool thread; the future completes on ``loop``.

        Must be called on ``loop``'s thread.

        Raises:
            RuntimeError: The pool was shut down.
        """
        future = loop.create_future()
        completions = self._completions.get(loop)
        if completions is None:
            completions = self._completions.setdefault(loop, _Completions(loop))
        self._put((future, fn, args, kwargs, completions), loop)
        return future

    def run_in_context(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        fn: Callable[..., T],
        kwargs: dict[str, Any],
    ) -> asyncio.Future[T]:
        """``context.run(fn, **kwargs)`` on a pool thread; the future completes on ``loop``.

        The same as ``run_soon(loop, context.run, fn, **kwargs)`` with fewer objects per
        call (a burst of thousands of pending calls is what the garbage collector sees).
        """
        future = loop.create_future()
        completions = self._completions.get(loop)
        if completions is None:
            completions = self._completions.setdefault(loop, _Completions(loop))
        self._put((future, fn, context, kwargs, completions), loop)
        return future

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on a pool thread (the ``Executor`` interface)."""
        future: Future[T] = Future()
        self._put((future, fn, args, kwargs, None), None)
        return future

    def _put(self, item: tuple[Any, ...], loop: asyncio.AbstractEventLoop | None) -> None:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._work.append(item)
            if self._idle > self._signalled:
                self._signalled += 1
                self._wake.notify()
                return
            if len(self._threads) >= self._max:
                return
            if not self._threads or loop is None:
                self._start_thread()
                return
            if self._watched:
                return
            self._watched = True
            taken = self._taken
        loop.call_later(_STALL, self._check_progress, loop, taken)

    def _check_progress(self, loop: asyncio.AbstractEventLoop, taken: int) -> None:
        with self._lock:
            self._watched = False
            if self._shutdown or not self._work or self._idle > self._signalled:
                return
            if self._taken == taken and len(self._threads) < self._max:
                self._start_thread()  # every thread is busy with a slow call
            if len(self._threads) >= self._max:
                return
            self._watched = True
            taken = self._taken
        loop.call_later(_STALL, self._check_progress, loop, taken)

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    # -- threads ---------------------------------------------------------------------
    def _run(self) -> None:
        lock, work = self._lock, self._work
        while True:
            with lock:
                while not work:
                    if self._shutdown:
                        return
                    self._idle += 1
                    self._wake.wait()
                    self._idle -= 1
                    if self._signalled:
                        self._signalled -= 1
                item = work.popleft()
                self._taken += 1
            future, fn, args, kwargs, completions = item
            del item
            if completions is None:
                if future.set_running_or_notify_cancel():
                    ok, value = _outcome(fn, args, kwargs)
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            elif not future.cancelled():
                if type(args) is contextvars.Context:  # run_in_context
                    ok, value = _outcome(args.run, (fn,), kwargs)
                else:
                    ok, value = _outcome(fn, args, kwargs)
                completions.push(future, ok, value)
            # Nothing of the call outlives it here: not its result (a big value, or an
            # error whose traceback holds the job's net) until the next call comes.
            value = None
            del future, fn, args, kwargs, completions

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; idle threads exit, busy ones after their call."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                for item in self._work:
                    if item[4] is None:
                        item[0].cancel()
                    else:
                        with contextlib.suppress(RuntimeError):  # its loop is closed
                            item[4].loop.call_soon_threadsafe(item[0].cancel)
                self._work.clear()
            self._wake.notify_all()
        if wait:
            deadline = time.monotonic() + 3600
            for thread in list(self._threads):
                thread.join(max(0.0, deadline - time.monotonic()))
