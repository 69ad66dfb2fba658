"""LinkSender: one destination, a few messages in flight, batches of what queued.

Routers call :meth:`LinkSender.put` on a site's event loop (it never blocks). The
sender sends what queued as one batch as soon as fewer than ``window`` batches wait for
their reply, so an entry does not wait a round trip behind the one before it, and a
burst still costs one NVFLARE message per batch, not one per token. A batch whose send
fails is sent again (alone, after a pause) until it is acknowledged. Batches may arrive
out of order; receivers put entries back in link order and drop the ones they already
have (see ``_wire``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from . import _stages
from ._wire import Entry


class Batch(NamedTuple):
    """What one message carries: its link, its number on the link, its entries."""

    link: str
    number: int
    entries: list[Entry]


Transport = Callable[[str, Batch], bool]
"""``transport(destination, batch) -> delivered``: send one batch and wait for its reply.

The receiver hands the batch to a :class:`~._linkorder.LinkOrder` (link order)."""

MAX_BATCH = 4096
"""Entries per message at most."""
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""Approximate payload bytes per message at most (a larger single entry goes alone)."""
WINDOW = 4
"""Batches in flight on a link at most."""


def _size(entry: Entry) -> int:
    data = entry.data
    return len(data) if isinstance(data, (bytes, str)) else 64


class LinkSender:
    """Sends entries to one destination, batched, each until acknowledged.

    Args:
        destination: Where the entries go (a site name, or the application).
        transport: Sends one batch; returns whether the destination acknowledged it.
        logger: Where to log failed sends.
        retry_interval: Seconds before the first retry of a failed batch (doubles up to 1 s).
        window: Batches in flight at most (1: each waits for the reply to the one before).
    """

    def __init__(
        self,
        destination: str,
        transport: Transport,
        logger: logging.Logger,
        retry_interval: float = 0.05,
        window: int = WINDOW,
    ) -> None:
        """Start the sender threads (one per batch in flight)."""
        if window < 1:
            raise ValueError(f"a link's window must be at least 1, not {window}")
        self.destination = destination
        self._transport = transport
        self._log = logger
        self._retry = retry_interval
        self._queue: deque[Entry] = deque()
        self._dropped_jobs: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._closing = threading.Event()
        self._in_flight = 0
        self._idle = threading.Event()
        self._idle.set()
        self.failures = 0
        self.link_id = uuid.uuid4().hex
        self._numbered = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"dfm-link-{destination}-{i}", daemon=True)
            for i in range(window)
        ]
        for thread in self._threads:
            thread.start()

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
            self._cond.notify_all()
        self._closing.set()

    def _take(self) -> Batch | None:
        batch: list[Entry] = []
        size = 0
        queue = self._queue
        while queue and len(batch) < MAX_BATCH:
            entry = queue[0]
            grown = size + _size(entry)
            if batch and grown > MAX_BATCH_BYTES:
                break
            batch.append(queue.popleft())
            size = grown
        kept = self._kept(batch)
        if not kept:
            return None
        self._numbered += 1
        return Batch(self.link_id, self._numbered - 1, kept)

    def _kept(self, batch: list[Entry]) -> list[Entry]:
        if self._dropped_jobs:
            return [e for e in batch if e.job not in self._dropped_jobs]
        return batch

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    if self._in_flight == 0:
                        self._idle.set()
                    self._cond.wait()
                if self._closed:
                    self._idle.set()
                    return
                batch = self._take()
                if batch is None:
                    continue
                self._in_flight += 1
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    if self._in_flight == 0 and not self._queue:
                        self._idle.set()

    def _deliver(self, batch: Batch) -> None:
        """Send one batch until it is acknowledged (or the link closes).

        A retry keeps the batch's number (it may lose entries of dropped jobs, even all).
        """
        delay = self._retry
        while True:
            if _stages.ENABLED:
                _stages.stamp("send", batch.entries)
            try:
                delivered = self._transport(self.destination, batch)
            except Exception:
                self._log.exception(
                    "Sending %d entries to %s failed", len(batch.entries), self.destination
                )
                delivered = False
            if delivered:
                if _stages.ENABLED:
                    _stages.stamp("acked", batch.entries)
                return
            with self._cond:
                self.failures += 1
                failures = self.failures
            if self._closing.wait(delay):
                return
            with self._cond:
                # the same entries: the receiver drops what it has
                batch = batch._replace(entries=self._kept(batch.entries))
            delay = min(1.0, delay * 2)
            if failures % 20 == 1:
                self._log.warning(
                    "Link to %s: a batch of %d entries was not acknowledged; retrying",
                    self.destination,
                    len(batch.entries),
                )
