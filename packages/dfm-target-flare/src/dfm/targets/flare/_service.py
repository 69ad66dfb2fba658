"""The DFM service on the NVFLARE server: the job table and the outbox to the application.

Everything for the application (yields, deliveries to the homesite, job events) goes
into the job's *outbox*, numbered per job, and stays there until the application
acknowledges it; pusher threads send it to the application's cell that last attached
to the job, up to ``PUSH_WINDOW`` pushes in flight per cell, so an entry does not wait
for the reply to the push before it. Pushes may arrive out of order: the application
puts each job's entries back in order and acknowledges the highest contiguous one; a
push that fails is sent again from there, and so is a gap the application still has
``RESEND_AFTER`` seconds after the last reply (an entry it could not keep). A new
application process that attaches gets everything not acknowledged, its first push for
the job alone (it learns from it where the job's entries start).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from . import _stages
from ._jobrecord import JobRecord
from ._wire import APP, DONE, END, FAIL, INJECT, Entry

PushTransport = Callable[[str, list[Entry]], dict[str, int] | None]
"""``push(fqcn, entries) -> {job: highest seq acknowledged}``, or None if it failed."""

MAX_FINISHED = 1000
PUSH_BATCH = 2048
"""Entries per push at most."""
PUSH_WINDOW = 4
"""Pushes in flight per application cell at most."""
PUSH_THREADS = 8
"""Pusher threads (shared by every application cell)."""
UNREACHABLE_PAUSE = 1.0
"""Seconds without pushes to a cell after a push to it failed."""
RESEND_AFTER = 1.0
"""Seconds after the last reply before entries sent but not acknowledged are sent again."""


class JobTable:
    """The jobs of the service and their outboxes; thread-safe.

    Args:
        push: Sends entries to an application cell.
        logger: Where to log.
        on_job_failed: Called with ``(job, sites)`` when a job fails (cancel it there).
    """

    def __init__(
        self,
        push: PushTransport,
        logger: logging.Logger,
        on_job_failed: Callable[[str, list[str]], None],
    ) -> None:
        """Start the pusher threads."""
        self._push = push
        self._log = logger
        self._on_failed = on_job_failed
        self._jobs: dict[str, JobRecord] = {}
        self._finished: OrderedDict[str, JobRecord] = OrderedDict()
        self._cond = threading.Condition()  # an RLock: ack() runs inside _pushed()
        self._closed = False
        self._unreachable: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._threads = [
            threading.Thread(target=self._pusher, name=f"dfm-push-{i}", daemon=True)
            for i in range(PUSH_THREADS)
        ]
        for thread in self._threads:
            thread.start()

    # -- jobs --------------------------------------------------------------------------
    def add(self, record: JobRecord) -> None:
        """A job that is starting (all its sites are running it)."""
        record.remaining = set(record.sites)
        with self._cond:
            self._jobs[record.job] = record

    def get(self, job: str) -> JobRecord | None:
        """A running or finished job."""
        with self._cond:
            return self._jobs.get(job) or self._finished.get(job)

    def running(self) -> list[JobRecord]:
        """The jobs not yet ended."""
        with self._cond:
            return [r for r in self._jobs.values() if r.ended is None]

    def all(self) -> list[JobRecord]:
        """Every job the service knows, oldest first."""
        with self._cond:
            records = list(self._finished.values()) + list(self._jobs.values())
        return sorted(records, key=lambda r: r.created)

    def remove(self, job: str) -> None:
        """Forget a job that could not start."""
        with self._cond:
            self._jobs.pop(job, None)

    # -- entries for the application ----------------------------------------------------
    def to_app(self, entry: Entry) -> None:
        """An entry from a site for the application: track job events, queue it."""
        failed_sites: list[str] | None = None
        with self._cond:
            record = self._jobs.get(entry.job)
            if record is None:
                self._log.debug("Dropped a %s entry of unknown job %s", entry.kind, entry.job)
                return
            if entry.kind == DONE:
                record.remaining.discard(entry.source)
                if entry.data is not None and record.status == "RUNNING":
                    record.status = "FAILED"
                    record.errors.append(str(entry.data))
                    failed_sites = sorted(record.remaining)
            elif entry.kind == FAIL:
                if record.status == "RUNNING":
                    record.status = "FAILED"
                    reason = entry.data[0] if isinstance(entry.data, list) else str(entry.data)
                    record.errors.append(str(reason))
                    failed_sites = sorted(record.remaining)
                record.remaining.clear()
            self._queue(record, entry)
            if entry.kind in (DONE, FAIL):
                self._maybe_end(record)
        if failed_sites:
            self._on_failed(entry.job, failed_sites)

    def event(self, job: str, kind: str, data: Any) -> None:
        """An event of the service itself for the application (e.g. ``fail``, ``started``)."""
        self.to_app(Entry(kind, job, "server", APP, 0, data))

    def _queue(self, record: JobRecord, entry: Entry) -> None:
        record.outbox.append(entry._replace(seq=record.next_seq))
        record.next_seq += 1
        self._cond.notify()  # a pusher that finds the window full is woken by a reply

    def _maybe_end(self, record: JobRecord) -> None:
        if not record.remaining and record.ended is None:
            record.ended = time.time()
            if record.status == "RUNNING":
                record.status = "ENDED"  # the application reports FINISHED or FAILED
            self._queue(record, Entry(END, record.job, "server", APP, 0, record.status))

    def final(self, job: str, status: str, errors: list[str]) -> None:
        """The application's final status of the job (DFM's own, from its status tokens).

        The job's outbox is dropped: the application's stream has ended, so what it has
        not acknowledged yet it has had, or no longer needs.
        """
        with self._cond:
            record = self._jobs.get(job) or self._finished.get(job)
            if record is None:
                return
            record.status = status
            record.extra["final"] = True
            if errors:
                record.errors = [str(e) for e in errors][:100]
            if record.ended is None:
                record.ended = time.time()
            record.outbox.clear()  # the application is done with the job: it needs no more
            self._retire(record)

    def cancel(self, job: str) -> JobRecord | None:
        """Mark a job ABORTED; its outbox is dropped."""
        with self._cond:
            record = self._jobs.get(job)
            if record is None:
                return None
            record.status = "ABORTED"
            record.ended = record.ended or time.time()
            record.outbox.clear()
            self._retire(record)
            return record

    def _retire(self, record: JobRecord) -> None:
        if record.outbox or record.job not in self._jobs:
            return
        del self._jobs[record.job]
        self._finished[record.job] = record
        while len(self._finished) > MAX_FINISHED:
            self._finished.popitem(last=False)

    def fail_site(self, site: str, reason: str) -> list[str]:
        """Fail every running job that still needs ``site``; returns their ids."""
        with self._cond:
            affected = [r.job for r in self._jobs.values() if site in r.remaining]
        for job in affected:
            self.to_app(Entry(FAIL, job, "server", APP, 0, [reason, site]))
        return affected

    # -- the application's side ---------------------------------------------------------
    def note_input(self, entries: list[Entry]) -> None:
        """Entries the application sends: note where each job's input is."""
        with self._cond:
            for entry in entries:
                if entry.kind == INJECT and entry.source == APP:
                    record = self._jobs.get(entry.job)
                    if record is not None:
                        record.note_input(entry.data)

    def attach(self, job: str, subscriber: str | None) -> JobRecord | None:
        """Send the job's unacknowledged entries to ``subscriber`` from now on."""
        with self._cond:
            record = self._jobs.get(job) or self._finished.get(job)
            if record is None:
                return None
            record.subscriber = subscriber
            record.sent = record.acked
            record.generation += 1
            record.resync, record.pushing = True, 0
            if subscriber:
                self._unreachable.pop(subscriber, None)
            self._cond.notify_all()
            return record

    def ack(self, job: str, seq: int) -> None:
        """The application has every entry of the job up to ``seq``."""
        with self._cond:
            record = self._jobs.get(job)
            if record is None or seq <= record.acked:
                return
            record.acked = seq
            outbox = record.outbox
            while outbox and outbox[0].seq <= seq:
                outbox.popleft()
            if record.extra.get("final") and not outbox:
                self._retire(record)

    def retrieve(self, job: str, after: int, limit: int = PUSH_BATCH) -> list[Entry]:
        """Entries after ``after`` (the poll path); acknowledges everything up to it."""
        self.ack(job, after)
        with self._cond:
            record = self._jobs.get(job)
            if record is None:
                return []
            return [e for e in record.outbox if e.seq > after][:limit]

    # -- pusher ------------------------------------------------------------------------
    def _take(self) -> tuple[str, list[Entry], dict[str, int]] | None:
        """The next push: a cell, its entries not sent yet, the generation of each job.

        Called under the lock; what it returns counts as sent (and in flight).
        """
        now = time.monotonic()
        chosen = None
        for record in self._jobs.values():
            if not record.pushing and record.sent > record.acked:
                if now - record.replied > RESEND_AFTER:
                    record.sent = record.acked  # a gap the application did not fill
            subscriber = record.subscriber
            if chosen is None and subscriber and self._has_unsent(record):
                if (
                    self._unreachable.get(subscriber, 0.0) <= now
                    and self._in_flight.get(subscriber, 0) < PUSH_WINDOW
                ):
                    chosen = subscriber
        if chosen is None:
            return None
        batch: list[Entry] = []
        jobs: dict[str, int] = {}
        for record in self._jobs.values():
            if record.subscriber != chosen or not self._has_unsent(record):
                continue
            outbox = record.outbox
            start = max(record.sent + 1 - outbox[0].seq, 0)  # the outbox has no gaps
            taken = list(itertools.islice(outbox, start, start + PUSH_BATCH - len(batch)))
            batch.extend(taken)
            record.sent = taken[-1].seq
            record.pushing += 1
            jobs[record.job] = record.generation
            if len(batch) >= PUSH_BATCH:
                break
        self._in_flight[chosen] = self._in_flight.get(chosen, 0) + 1
        return chosen, batch, jobs

    @staticmethod
    def _has_unsent(record: JobRecord) -> bool:
        outbox = record.outbox
        if not outbox or outbox[-1].seq <= record.sent:
            return False
        return not (record.resync and record.pushing)  # after attach: the first push alone

    def _pusher(self) -> None:
        while True:
            with self._cond:
                work = None if self._closed else self._take()
                while work is None:
                    if self._closed:
                        return
                    self._cond.wait(0.5)
                    work = None if self._closed else self._take()
            subscriber, batch, jobs = work
            acks = None
            if _stages.ENABLED:
                _stages.stamp("push", batch)
            try:
                acks = self._push(subscriber, batch)
            except Exception:
                self._log.exception("Pushing to %s failed", subscriber)
            self._pushed(subscriber, jobs, acks)

    def _pushed(self, subscriber: str, jobs: dict[str, int], acks: dict[str, int] | None) -> None:
        """A push's reply: its acknowledgements, or (failed) send again from the acked."""
        with self._cond:
            left = self._in_flight.get(subscriber, 1) - 1
            if left > 0:
                self._in_flight[subscriber] = left
            else:
                self._in_flight.pop(subscriber, None)
            if acks is None:
                self._log.warning("DFM: the application %s does not answer", subscriber)
                self._unreachable[subscriber] = time.monotonic() + UNREACHABLE_PAUSE
            for job, generation in jobs.items():
                record = self._jobs.get(job)
                if record is None or record.generation != generation:
                    continue  # ended, or attached again since: the reply is stale
                record.pushing -= 1
                record.replied = time.monotonic()
                if acks is None:
                    record.sent = min(record.sent, record.acked)
                    continue
                record.resync = False
                if job in acks:
                    self.ack(job, acks[job])
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the pusher."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
