"""JobBook: this application's FLARE jobs, and what the service pushes for them."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _stages

if TYPE_CHECKING:
    from ._job import FlareJobRecord
    from ._wire import Entry


class JobBook:
    """The running jobs, the finished ones kept for ``reattach``, and their inbound entries.

    Entries pushed by the service are applied once and in order per job (a push retried
    after a lost reply repeats some).

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
        self._lock = threading.RLock()

    # -- the jobs -------------------------------------------------------------------
    def add(self, record: FlareJobRecord, expected: int = 0) -> None:
        """A running job; ``expected`` is its first inbound sequence number (-1: any)."""
        with self._lock:
            self._records[record.job_id] = record
            self._expected[record.job_id] = expected

    def discard(self, job: str) -> None:
        """Forget a job that did not start."""
        with self._lock:
            self._records.pop(job, None)

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

    # -- what the service sends -------------------------------------------------------
    def on_push(self, batch: bytes) -> dict[str, int]:
        """A batch pushed by the service; the acknowledged sequence number by job."""
        from ._wire import unpack

        acks: dict[str, int] = {}
        entries = unpack(batch)
        if _stages.ENABLED:
            _stages.stamp("app", entries)
        self._log.debug("Pushed: %s", [(e.kind, e.job, e.seq) for e in entries])
        for entry in entries:
            acks[entry.job] = max(acks.get(entry.job, -1), entry.seq)
            self.inbound(entry)
        return acks

    def inbound(self, entry: Entry) -> None:
        """One entry from the service (applied once, in order)."""
        from ._wire import APP, DONE, END, FAIL, PKG, STARTED

        with self._lock:
            expected = self._expected.get(entry.job)
            record = self._records.get(entry.job)
            if expected is None or record is None:
                return
            if expected == -1:
                expected = entry.seq
            if entry.seq < expected:
                return  # delivered before (a push retried after a lost reply)
            if entry.seq > expected:
                self._log.warning(
                    "Job %s: entries %d..%d are missing", entry.job, expected, entry.seq - 1
                )
            self._expected[entry.job] = entry.seq + 1
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
