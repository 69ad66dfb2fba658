"""Watchdog: one thread that calls functions at deadlines (job timeouts)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable


class Watchdog:
    """Calls each scheduled function once its deadline has passed, on its own thread.

    Args:
        name: The thread's name.
        logger: Where failures of the functions are logged.
    """

    def __init__(self, name: str, logger: logging.Logger) -> None:
        """Create the watchdog; its thread starts with the first schedule."""
        self._name = name
        self._log = logger
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after ``delay`` seconds."""
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), fn))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._closed:
                    return
                fn = heapq.heappop(self._heap)[2]
            try:
                fn()
            except Exception:
                self._log.exception("A watchdog action failed")

    def close(self) -> None:
        """Stop; pending functions are never called."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)
