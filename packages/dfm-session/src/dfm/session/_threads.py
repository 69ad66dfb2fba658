"""Delivery threads: reused across jobs, so starting a job starts no thread."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable

from ._logging import LOGGER_NAME

IDLE_SECONDS = 30.0
_log = logging.getLogger(LOGGER_NAME)


class _Worker:
    def __init__(self, pool: DeliveryThreads, name: str) -> None:
        self.pool = pool
        self.work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def _loop(self) -> None:
        pool = self.pool
        while True:
            try:
                fn = self.work.get(timeout=pool.idle_seconds)
            except queue.Empty:
                with pool.lock:
                    if self in pool.idle:
                        pool.idle.remove(self)
                        return
                continue  # taken from the idle list just now: the work is on its way
            try:
                fn()
            except Exception:
                _log.exception("A delivery task failed")
            del fn
            with pool.lock:
                pool.idle.append(self)


class DeliveryThreads:
    """Daemon threads that each run one task at a time; idle ones wait for the next.

    A job's stream runs its delivery loop on one of them for as long as the job needs
    it, so jobs never share a delivery thread, yet a new job usually reuses an idle
    thread instead of starting one. Threads idle for ``idle_seconds`` exit.

    Args:
        idle_seconds: How long an idle thread waits before it exits.
    """

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        """No threads until the first task."""
        self.idle_seconds = idle_seconds
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self._names = itertools.count()

    def run(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on an idle thread, or on a new one."""
        with self.lock:
            worker = self.idle.pop() if self.idle else None
        if worker is None:
            worker = _Worker(self, f"dfm-delivery-{next(self._names)}")
        worker.work.put(fn)


DELIVERY_THREADS = DeliveryThreads()
"""The process's delivery threads."""
