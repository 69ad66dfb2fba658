"""EarlyEntries: what a site received for a job it has not created yet, bounded.

Sites are created in parallel, each with its first parameter sets, so a site created
first may send a token to one whose create has not registered the job yet. The node
keeps such entries and hands them to the site right after the job's create. They are
untrusted input (any party may name any job id), so what is kept is bounded per node:
entries, payload bytes, and age (a job not created within ``max_age`` seconds never
will be). Over a bound, an entry is dropped and logged, and its job is marked *spoiled*:
its create fails with the reason instead of running with a token missing.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import msgpack

from ._wire import Entry

MAX_ENTRIES = 50_000
"""Entries kept per node at most (all jobs together)."""
MAX_BYTES = 64 * 1024 * 1024
"""Approximate payload bytes kept per node at most."""
MAX_AGE = 60.0
"""Seconds a job's early entries are kept (from the first one) before they are dropped."""
MAX_SPOILED = 10_000
"""Jobs remembered as spoiled (the oldest is forgotten first)."""
_ENTRY_OVERHEAD = 128


def entry_size(entry: Entry) -> int:
    """Approximate bytes an entry holds (its payload and its names)."""
    data: Any = entry.data
    if isinstance(data, (bytes, bytearray, str)):
        payload = len(data)
    elif data is None:
        payload = 0
    else:
        try:
            payload = len(msgpack.packb(data, use_bin_type=True))
        except Exception:
            payload = MAX_BYTES  # what cannot be measured is not kept
    names = len(entry.kind) + len(entry.job) + len(entry.source) + len(entry.target)
    return payload + names + _ENTRY_OVERHEAD


class _Held:
    __slots__ = ("entries", "since", "size")

    def __init__(self, since: float) -> None:
        self.since = since
        self.size = 0
        self.entries: list[Entry] = []


class EarlyEntries:
    """Entries of jobs not created yet, by job, in arrival order; bounded per node.

    Not thread-safe: the node calls it under the lock that orders deliveries.

    Args:
        logger: Where drops are logged.
        max_entries: Entries kept at most.
        max_bytes: Approximate bytes kept at most.
        max_age: Seconds a job's entries are kept.
        clock: Monotonic seconds (for tests).
    """

    def __init__(
        self,
        logger: logging.Logger,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Nothing kept yet."""
        self._log = logger
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._clock = clock
        self._jobs: OrderedDict[str, _Held] = OrderedDict()  # oldest first
        self._spoiled: OrderedDict[str, int] = OrderedDict()
        self.entries = 0
        self.bytes = 0
        self.dropped = 0

    def keep(self, entry: Entry) -> bool:
        """Keep an entry until its job is created; False if it was dropped (a bound)."""
        self.expire()
        size = entry_size(entry)
        if self.entries >= self.max_entries or self.bytes + size > self.max_bytes:
            self._drop(entry, "over the bound")
            return False
        held = self._jobs.get(entry.job)
        if held is None:
            held = self._jobs[entry.job] = _Held(self._clock())
        held.entries.append(entry)
        held.size += size
        self.entries += 1
        self.bytes += size
        return True

    def take(self, job: str) -> tuple[list[Entry], int]:
        """The job's kept entries in arrival order, and how many of its entries were dropped."""
        self.expire()
        held = self._jobs.pop(job, None)
        dropped = self._spoiled.pop(job, 0)
        if held is None:
            return [], dropped
        self.entries -= len(held.entries)
        self.bytes -= held.size
        return held.entries, dropped

    def discard(self, job: str) -> None:
        """Drop what is kept for a job that ended or will never be created here."""
        self.take(job)

    def expire(self) -> None:
        """Drop the entries of jobs kept longer than ``max_age``."""
        deadline = self._clock() - self.max_age
        jobs = entries = 0
        first = ""
        while self._jobs:
            job, held = next(iter(self._jobs.items()))
            if held.since > deadline:
                break
            del self._jobs[job]
            self.entries -= len(held.entries)
            self.bytes -= held.size
            self._spoil(job, len(held.entries))
            jobs, entries, first = jobs + 1, entries + len(held.entries), first or job
        if jobs:  # one line however many expire at once (a flood of made-up job ids)
            self._log.warning(
                "Dropped %d entries of %d job(s) (first: %s): not created here within %gs",
                entries,
                jobs,
                first,
                self.max_age,
            )

    def _drop(self, entry: Entry, why: str) -> None:
        self.dropped += 1
        self._spoil(entry.job, 1)
        if self.dropped % 1000 == 1:  # a flood must not flood the log too
            self._log.warning(
                "Dropped a %s entry of job %s from %s (not created here yet): %s "
                "(%d entries, %d bytes kept; %d dropped so far)",
                entry.kind,
                entry.job,
                entry.source,
                why,
                self.entries,
                self.bytes,
                self.dropped,
            )

    def _spoil(self, job: str, count: int) -> None:
        self._spoiled[job] = self._spoiled.get(job, 0) + count
        self._spoiled.move_to_end(job)
        while len(self._spoiled) > MAX_SPOILED:
            self._spoiled.popitem(last=False)
