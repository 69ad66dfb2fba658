"""JobBook: this application's FLARE jobs, and what the service pushes for them.

The service keeps several pushes in flight, so they may arrive out of order (and a push
retried after a lost reply repeats entries). Per job, the book applies each entry once
and in the order of its ``seq``: one that comes early waits (bounded) until the gap is
filled, and a push is acknowledged with the highest *contiguous* seq, so after a failed
push the service sends the gap again. Entries are applied by one thread at a time, in
the order they became ready, outside the book's lock.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _stages

if TYPE_CHECKING:
    from ._job import FlareJobRecord
    from ._wire import Entry

MAX_EARLY = 20_000
"""Entries of one job kept while an earlier one is missing (more fail the push)."""


class PushOverflowError(RuntimeError):
    """A push brought more early entries of a job than the book keeps (it is sent again)."""


class JobBook:
    """The running jobs, the finished ones kept for ``reattach``, and their inbound entries.

    Entries pushed by the service are applied once and in order per job (see the
    module docstring).

    Args:
        deliver: Delivers a package for the homesite (its wire bytes).
        site_failed: Called when a site failed a job (the service is asked again).
        logger: Where to log.
        max_finished: Finished jobs kept.
    """

    def __init__(
        self,
        deliver: Callable[[bytes], None],
        site_failed: Callable[[], None],
        logger: logging.Logger,
        max_finished: int,
    ) -> None:
        """No job yet."""
        self._deliver = deliver
        self._site_failed = site_failed
        self._log = logger
        self._max_finished = max_finished
        self._records: dict[str, FlareJobRecord] = {}
        self._finished: OrderedDict[str, FlareJobRecord] = OrderedDict()
        self._expected: dict[str, int] = {}
        self._early: dict[str, dict[int, Entry]] = {}
        self._ready: deque[tuple[FlareJobRecord, Entry]] = deque()
        self._applying = False
        self._lock = threading.RLock()

    # -- the jobs -------------------------------------------------------------------
    def add(self, record: FlareJobRecord, expected: int = 0) -> None:
        """A running job; ``expected`` is its first inbound sequence number.

        -1: the first entry pushed sets it (a job attached from another process: the
        service pushes its first entries after the attach alone).
        """
        with self._lock:
            self._records[record.job_id] = record
            self._expected[record.job_id] = expected

    def discard(self, job: str) -> None:
        """Forget a job that did not start."""
        with self._lock:
            self._records.pop(job, None)
            self._expected.pop(job, None)
            self._early.pop(job, None)

    def get(self, job: str) -> FlareJobRecord | None:
        """A running or finished job."""
        with self._lock:
            return self._records.get(job) or self._finished.get(job)

    def running(self) -> list[FlareJobRecord]:
        """The running jobs."""
        with self._lock:
            return list(self._records.values())

    def finish(self, job: str) -> FlareJobRecord | None:
        """The job ended: keep it for ``reattach``; the record, or None if not running."""
        with self._lock:
            record = self._records.pop(job, None)
            if record is None:
                return None
            self._expected.pop(job, None)
            self._early.pop(job, None)
            self._finished[job] = record
            while len(self._finished) > self._max_finished:
                self._finished.popitem(last=False)
            return record

    def clear(self) -> None:
        """Forget every job."""
        with self._lock:
            self._records.clear()
            self._finished.clear()
            self._expected.clear()
            self._early.clear()
            self._ready.clear()

    # -- what the service sends -------------------------------------------------------
    def on_push(self, batch: bytes) -> dict[str, int]:
        """A batch pushed by the service; the acknowledged sequence number by job.

        Raises:
            ValueError: The batch is not a batch of entries.
            PushOverflowError: Entries were dropped (too many early ones of a job); the
                service sends them again.
        """
        from ._wire import unpack

        entries = unpack(batch)
        if _stages.ENABLED:
            _stages.stamp("app", entries)
        self._log.debug("Pushed: %s", [(e.kind, e.job, e.seq) for e in entries])
        acks: dict[str, int] = {}
        dropped = 0
        with self._lock:
            for entry in entries:
                if not self._sequence(entry):
                    dropped += 1
                expected = self._expected.get(entry.job)
                if expected is None or entry.job not in self._records:
                    acks[entry.job] = max(acks.get(entry.job, -1), entry.seq)  # not ours
                else:
                    acks[entry.job] = expected - 1
        self._apply_ready()
        if dropped:
            raise PushOverflowError(
                f"{dropped} pushed entries dropped: more than {MAX_EARLY} entries of a job "
                "arrived ahead of a missing one"
            )
        return acks

    def _sequence(self, entry: Entry) -> bool:
        """Queue the entries an arrival makes ready, in order (under the lock); False: dropped."""
        job = entry.job
        expected = self._expected.get(job)
        record = self._records.get(job)
        if expected is None or record is None:
            return True
        if expected == -1:
            expected = self._expected[job] = entry.seq
        if entry.seq < expected:
            return True  # delivered before (a push retried after a lost reply)
        if entry.seq > expected:
            early = self._early.setdefault(job, {})
            if entry.seq in early:
                return True
            if len(early) >= MAX_EARLY:
                self._log.warning(
                    "Job %s: dropped pushed entry %d (%d early entries wait for entry %d)",
                    job,
                    entry.seq,
                    len(early),
                    expected,
                )
                return False
            early[entry.seq] = entry
            return True
        ready = self._ready
        ready.append((record, entry))
        expected += 1
        waiting = self._early.get(job)
        while waiting and expected in waiting:
            ready.append((record, waiting.pop(expected)))
            expected += 1
        if waiting is not None and not waiting:
            del self._early[job]
        self._expected[job] = expected
        return True

    def _apply_ready(self) -> None:
        """Apply the ready entries in order, on one thread at a time."""
        with self._lock:
            if self._applying:
                return  # the thread applying takes ours too, after the ones before
            self._applying = True
        while True:
            with self._lock:
                if not self._ready:
                    self._applying = False
                    return
                record, entry = self._ready.popleft()
            try:
                self._apply(record, entry)
            except Exception:
                self._log.exception("Job %s: applying a %s entry failed", entry.job, entry.kind)

    def _apply(self, record: FlareJobRecord, entry: Entry) -> None:
        from ._wire import APP, DONE, END, FAIL, PKG, STARTED

        kind = entry.kind
        if kind == PKG and entry.target == APP:
            record.stream.put(bytes(entry.data))
        elif kind == PKG:
            self._deliver(bytes(entry.data))
        elif kind == DONE:
            record.site_done(entry.source, None if entry.data is None else str(entry.data))
        elif kind == FAIL:
            self._site_failed()
            reason, site = (
                (entry.data + [None])[:2]
                if isinstance(entry.data, list)
                else (str(entry.data), None)
            )
            record.fail(str(reason), site)
        elif kind == STARTED:
            if entry.data:
                record.start_error = "; ".join(
                    f"site {s!r}: {m}" for s, m in sorted(dict(entry.data).items())
                )
            record.started.set()
        elif kind == END and not record.stream.ended and record.reattached:
            record.stream.end()

    def homesite_entry(self, entry: Entry) -> None:
        """A yield of the homesite: straight into the job's stream."""
        with self._lock:
            record = self._records.get(entry.job)
        if record is not None and isinstance(entry.data, bytes):
            record.stream.put(entry.data)

    def site_done(self, job: str, site: str, error: str | None) -> None:
        """The homesite's part of a job ended."""
        with self._lock:
            record = self._records.get(job)
        if record is not None:
            record.site_done(site, error)
