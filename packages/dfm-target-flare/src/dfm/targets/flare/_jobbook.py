"""JobBook: this application's FLARE jobs, and what the service pushes for them.

The service keeps several pushes in flight, so they may arrive out of order (and a push
retried after a lost reply repeats entries). Per job, the book applies each entry once
and in the order of its ``seq``: one that comes early waits (bounded) until the gap is
filled, and a push is acknowledged with the highest *contiguous* seq, so the service
sends a gap again (after a failed push, or an entry the book could not keep). Entries
are applied by one thread at a time, in the order they became ready, outside the book's
lock. A job being attached from another process is *held*: what is pushed for it waits
until its record is filled in from the service's reply (:meth:`JobBook.resume`).

Nothing of a job is acknowledged before its handle exists (:meth:`JobBook.acknowledge`):
results often arrive while ``execute()`` still waits for the sites' replies, and a
process that dies then must not have taken them from the service. The service sends
what it has no acknowledgement for again a moment later, and drops a job's outbox when
the application reports the job's final status.
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
"""Entries of one job kept while an earlier one is missing (more are dropped: sent again)."""


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
        self._held: set[str] = set()
        self._silent: set[str] = set()  # no handle yet: pushes are not acknowledged
        self._ready: deque[tuple[FlareJobRecord, Entry]] = deque()
        self._applying = False
        self._lock = threading.RLock()

    # -- the jobs -------------------------------------------------------------------
    def add(self, record: FlareJobRecord, expected: int = 0) -> None:
        """A running job; ``expected`` is its first inbound sequence number.

        -1: a job being attached from another process, held until :meth:`resume`; the
        first entry pushed sets it (the service pushes the first ones after an attach
        alone).
        """
        with self._lock:
            self._records[record.job_id] = record
            self._expected[record.job_id] = expected
            self._silent.add(record.job_id)
            if expected == -1:
                self._held.add(record.job_id)

    def acknowledge(self, job: str) -> None:
        """The job's handle exists: acknowledge what is pushed for it from now on."""
        with self._lock:
            self._silent.discard(job)

    def resume(self, job: str) -> None:
        """Apply what was pushed for a held job (its record is complete now), and on."""
        with self._lock:
            self._held.discard(job)
            early = self._early.get(job)
            if early and self._expected.get(job) == -1:
                first = min(early)
                self._expected[job] = first
                self._sequence(early.pop(first))
        self._apply_ready()

    def discard(self, job: str) -> None:
        """Forget a job that did not start."""
        with self._lock:
            self._records.pop(job, None)
            self._expected.pop(job, None)
            self._early.pop(job, None)
            self._held.discard(job)
            self._silent.discard(job)

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
            self._silent.discard(job)
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
            self._held.clear()
            self._silent.clear()
            self._ready.clear()

    # -- what the service sends -------------------------------------------------------
    def on_push(self, batch: bytes) -> dict[str, int]:
        """A batch pushed by the service; the acknowledged sequence number by job.

        Raises:
            ValueError: The batch is not a batch of entries.
        """
        from ._wire import unpack

        entries = unpack(batch)
        if _stages.ENABLED:
            _stages.stamp("app", entries)
        self._log.debug("Pushed: %s", [(e.kind, e.job, e.seq) for e in entries])
        acks: dict[str, int] = {}
        with self._lock:
            for entry in entries:
                self._sequence(entry)
            for job in {e.job for e in entries}:
                if job in self._held or job in self._silent:
                    continue  # not acknowledged yet: the service sends it again if need be
                if job in self._records:
                    acks[job] = self._expected[job] - 1
                else:  # not ours (any more): the service may drop it
                    acks[job] = max(e.seq for e in entries if e.job == job)
        self._apply_ready()
        return acks

    def _sequence(self, entry: Entry) -> None:
        """Queue the entries an arrival makes ready, in order (under the lock)."""
        job = entry.job
        expected = self._expected.get(job)
        record = self._records.get(job)
        if expected is None or record is None:
            return
        if job in self._held or (expected != -1 and entry.seq > expected):
            early = self._early.setdefault(job, {})
            if entry.seq in early:
                return
            if len(early) >= MAX_EARLY:
                self._log.warning(
                    "Job %s: dropped pushed entry %d for now (%d early entries wait for "
                    "entry %d); the service sends it again",
                    job,
                    entry.seq,
                    len(early),
                    expected,
                )
                return
            early[entry.seq] = entry
            return
        if expected == -1:
            expected = entry.seq
        if entry.seq < expected:
            return  # delivered before (a push retried after a lost reply)
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
