"""A thread pool of daemon threads for a site's sync adapters."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """Runs sync adapter calls on up to ``max_workers`` daemon threads, started on demand.

    Unlike ``ThreadPoolExecutor`` its threads are daemons: an adapter stuck in
    synchronous code (which no one can interrupt) does not keep the process from
    exiting. A cancelled job's stuck call keeps its thread until it returns; the pool
    is large so that a few such calls do not starve the site.

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
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on a pool thread."""
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._work.put((future, fn, args, kwargs))
            if not self._idle.acquire(timeout=0) and len(self._threads) < self._max:
                thread = threading.Thread(
                    target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                self._work.put(None)  # let the next thread see it too
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except StopIteration as e:
                    # asyncio futures refuse StopIteration: the awaiting frame would hang.
                    error = RuntimeError(f"The call raised StopIteration: {e}")
                    error.__cause__ = e
                    future.set_exception(error)
                except BaseException as e:
                    future.set_exception(e)
                else:
                    future.set_result(result)
            del item, future
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; idle threads exit, busy ones after their call."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._work.put(None)
        if wait:
            for thread in list(self._threads):
                thread.join()
