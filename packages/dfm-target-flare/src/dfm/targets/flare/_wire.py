"""What DFM sends over NVFLARE: sequenced entries, batched per link, deduplicated on arrival.

Every message between two parties of a DFM federation on NVFLARE (site → site, site →
server, server → application, application → server) carries a batch of *entries*.
An entry is ``(kind, job, source, target, seq, data)``:

* ``kind``: ``pkg`` (``data`` is a token's envelope: the bytes of
  ``TokenPackage.to_wire()``), ``inject`` (parameter sets for the target site),
  ``done`` (the source site's part of the job ended; ``data`` is the error or None),
  ``fail`` (the job failed outside its pipeline; ``data`` is ``[reason, site]``) or
  ``end`` (no more entries of the job will come), ``started`` (per-job mode: the job
  started, or ``data`` says why not), ``final`` (the application's final status);
* ``job``: the DFM job id; ``source``/``target``: DFM site names;
* ``seq``: the entry's number on its link ``(job, source → target)``, from 0.

Receivers keep, per link, the next number they expect: an entry seen before is dropped
(a retry after a lost reply), one that arrives early waits until the gap is filled, so
every entry is delivered exactly once and in the order it was sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

import msgpack

PKG = "pkg"
INJECT = "inject"
DONE = "done"
FAIL = "fail"
END = "end"
STARTED = "started"
FINAL = "final"

APP = "@app"
"""The target name of entries for the application (yields and job events)."""


class Entry(NamedTuple):
    """One sequenced item on a link (see the module docstring)."""

    kind: str
    job: str
    source: str
    target: str
    seq: int
    data: Any


def pack(entries: Iterable[Entry]) -> bytes:
    """The bytes of a batch of entries (msgpack; envelopes stay opaque bytes)."""
    packed: bytes = msgpack.packb([tuple(e) for e in entries], use_bin_type=True)
    return packed


def unpack(data: bytes | bytearray | memoryview) -> list[Entry]:
    """The entries of a batch.

    Raises:
        ValueError: The bytes are not a batch of entries.
    """
    try:
        raw = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True)
    except Exception as e:
        raise ValueError(f"not a DFM batch: {type(e).__name__}: {e}") from e
    if not isinstance(raw, list):
        raise ValueError("not a DFM batch: not a list")
    entries = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 6:
            raise ValueError("not a DFM batch: an entry is not a 6-item list")
        kind, job, source, target, seq, payload = item
        if not all(isinstance(v, str) for v in (kind, job, source, target)):
            raise ValueError("not a DFM batch: kind, job, source and target must be strings")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError("not a DFM batch: seq must be a non-negative integer")
        entries.append(Entry(kind, job, source, target, seq, payload))
    return entries


class Sequencer:
    """Numbers entries per link ``(job, source, target)``; thread-safe."""

    def __init__(self) -> None:
        """Every link starts at 0."""
        self._next: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def entry(self, kind: str, job: str, source: str, target: str, data: Any) -> Entry:
        """The next entry of the link."""
        key = (job, source, target)
        with self._lock:
            seq = self._next.get(key, 0)
            self._next[key] = seq + 1
        return Entry(kind, job, source, target, seq, data)

    def start_at(self, job: str, source: str, target: str, seq: int) -> None:
        """Number the link's next entry ``seq`` (a link another process numbered before)."""
        with self._lock:
            key = (job, source, target)
            self._next[key] = max(self._next.get(key, 0), seq)

    def forget(self, job: str) -> None:
        """Drop the counters of a finished job."""
        with self._lock:
            for key in [k for k in self._next if k[0] == job]:
                del self._next[key]


class Reorderer:
    """Exactly-once, in-order delivery per link on the receiving side; thread-safe.

    Args:
        max_pending: Early entries kept per link before the link is declared broken.
    """

    def __init__(self, max_pending: int = 100_000) -> None:
        """No link seen yet."""
        self._expected: dict[tuple[str, str, str], int] = {}
        self._pending: dict[tuple[str, str, str], dict[int, Entry]] = {}
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self.duplicates = 0

    def accept(self, entries: Iterable[Entry]) -> list[Entry]:
        """The entries that are now deliverable, in link order (duplicates dropped).

        Raises:
            ValueError: A link has more early entries than ``max_pending``.
        """
        ready: list[Entry] = []
        with self._lock:
            for entry in entries:
                key = (entry.job, entry.source, entry.target)
                expected = self._expected.get(key, 0)
                if entry.seq < expected:
                    self.duplicates += 1
                    continue
                if entry.seq > expected:
                    pending = self._pending.setdefault(key, {})
                    if entry.seq in pending:
                        self.duplicates += 1
                    elif len(pending) >= self._max_pending:
                        raise ValueError(
                            f"link {entry.source}->{entry.target} of job {entry.job}: more "
                            f"than {self._max_pending} entries arrived ahead of entry {expected}"
                        )
                    else:
                        pending[entry.seq] = entry
                    continue
                ready.append(entry)
                expected += 1
                waiting = self._pending.get(key)
                while waiting and expected in waiting:
                    ready.append(waiting.pop(expected))
                    expected += 1
                if waiting is not None and not waiting:
                    del self._pending[key]
                self._expected[key] = expected
        return ready

    def expected(self, job: str, source: str, target: str) -> int:
        """The next number expected on a link."""
        with self._lock:
            return self._expected.get((job, source, target), 0)

    def forget(self, job: str) -> None:
        """Drop the state of a finished job (later entries of it would count as new)."""
        with self._lock:
            for table in (self._expected, self._pending):
                for key in [k for k in table if k[0] == job]:
                    del table[key]
