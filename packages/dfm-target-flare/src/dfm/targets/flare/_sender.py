"""LinkSender: one destination, one thread, one message in flight, batches of what queued.

Routers call :meth:`LinkSender.put` on a site's event loop (it never blocks). The
sender's thread sends everything queued as one batch and waits for the reply before it
sends the next, so a link delivers in order and a burst of tokens costs one NVFLARE
message, not one per token. A batch whose send fails is sent again (with whatever
queued meanwhile); receivers drop the entries they already have (see ``_wire``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from . import _stages
from ._wire import Entry

Transport = Callable[[str, list[Entry]], bool]
"""``transport(destination, entries) -> delivered``: send one batch and wait for its reply."""

MAX_BATCH = 4096
"""Entries per message at most."""
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""Approximate payload bytes per message at most (a larger single entry goes alone)."""


def _size(entry: Entry) -> int:
    data = entry.data
    return len(data) if isinstance(data, (bytes, str)) else 64


class LinkSender:
    """Sends entries to one destination, in order, batched.

    Args:
        destination: Where the entries go (a site name, or the application).
        transport: Sends one batch; returns whether the destination acknowledged it.
        logger: Where to log failed sends.
        retry_interval: Seconds before the first retry of a failed batch (doubles up to 1 s).
    """

    def __init__(
        self,
        destination: str,
        transport: Transport,
        logger: logging.Logger,
        retry_interval: float = 0.05,
    ) -> None:
        """Start the sender thread."""
        self.destination = destination
        self._transport = transport
        self._log = logger
        self._retry = retry_interval
        self._queue: deque[Entry] = deque()
        self._dropped_jobs: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self.failures = 0
        self._thread = threading.Thread(
            target=self._run, name=f"dfm-link-{destination}", daemon=True
        )
        self._thread.start()

    def put(self, entries: list[Entry]) -> None:
        """Queue entries (non-blocking)."""
        if not entries:
            return
        with self._cond:
            if self._closed:
                return
            self._queue.extend(entries)
            self._idle.clear()
            self._cond.notify()

    def drop_job(self, job: str) -> None:
        """Send nothing more of a job (it ended or failed)."""
        with self._cond:
            self._dropped_jobs.add(job)
            if len(self._dropped_jobs) > 100_000:
                self._dropped_jobs.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued was delivered."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop sending (queued entries are dropped)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify()

    def _take(self, carried: list[Entry]) -> list[Entry]:
        batch = carried
        size = sum(_size(e) for e in batch)
        queue = self._queue
        while queue and len(batch) < MAX_BATCH:
            entry = queue[0]
            grown = size + _size(entry)
            if batch and grown > MAX_BATCH_BYTES:
                break
            batch.append(queue.popleft())
            size = grown
        if self._dropped_jobs:
            batch = [e for e in batch if e.job not in self._dropped_jobs]
        return batch

    def _run(self) -> None:
        carried: list[Entry] = []
        delay = self._retry
        while True:
            with self._cond:
                while not self._queue and not carried and not self._closed:
                    self._idle.set()
                    self._cond.wait()
                if self._closed:
                    self._idle.set()
                    return
                batch = self._take(carried)
            carried = []
            if not batch:
                continue
            if _stages.ENABLED:
                _stages.stamp("send", batch)
            try:
                delivered = self._transport(self.destination, batch)
            except Exception:
                self._log.exception("Sending %d entries to %s failed", len(batch), self.destination)
                delivered = False
            if delivered:
                if _stages.ENABLED:
                    _stages.stamp("acked", batch)
                delay = self._retry
                continue
            self.failures += 1
            carried = batch  # the same entries again: the receiver drops what it has
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(delay)
            delay = min(1.0, delay * 2)
            if self.failures % 20 == 1:
                self._log.warning(
                    "Link to %s: a batch of %d entries was not acknowledged; retrying",
                    self.destination,
                    len(batch),
                )
            time.sleep(0)
