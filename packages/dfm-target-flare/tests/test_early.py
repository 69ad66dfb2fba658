"""A site keeps what arrives before its job's create (bounded) and hands it over after it."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import Any

import pytest

from dfm.irgen import NetIR
from dfm.runtime import EncodedParams, SiteHost, TokenPackage
from dfm.targets.flare import _node
from dfm.targets.flare._early import MAX_BYTES, MAX_ENTRIES, EarlyEntries
from dfm.targets.flare._node import SiteNode
from dfm.targets.flare._wire import APP, INJECT, PKG, Entry, Sequencer

LOG = logging.getLogger("test-early")


class RecordingHost(SiteHost):
    """A site host that records, in order, what the node posts to it (its inbox is FIFO)."""

    def __init__(self, site: str) -> None:
        super().__init__(site)
        self.posted: list[tuple[str, str, Any]] = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    def create(
        self,
        job_id: str,
        netir: NetIR,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
    ) -> Future[None]:
        with self._lock:
            self.posted.append(("create", job_id, None))
        future: Future[None] = Future()
        if job_id in self.refuse:
            future.set_exception(ValueError(f"site refuses job {job_id}"))
        else:
            future.set_result(None)
        return future

    def inject(self, job_id: str, params: EncodedParams) -> None:
        with self._lock:
            self.posted.append(("inject", job_id, [str(f) for f, _ in params]))

    def deliver(self, item: TokenPackage | bytes) -> None:
        with self._lock:
            self.posted.append(("deliver", "", item))

    def cancel(self, job_id: str) -> None:
        with self._lock:
            self.posted.append(("cancel", job_id, None))

    @property
    def alive(self) -> bool:
        return True

    def close(self, timeout: float) -> None:
        pass


@pytest.fixture
def south(monkeypatch: pytest.MonkeyPatch) -> Iterator[SiteNode]:
    """The node of client site ``south``, its site host recording what it is given."""
    monkeypatch.setattr(_node, "new_site_host", lambda site, *a: RecordingHost(site))
    node = SiteNode("south", "south", None, lambda dest, batch: True, LOG)
    yield node
    node.close()


def netir(site: str = "south") -> str:
    return NetIR(site=site, homesite="app", federation_name="fed", transitions=[]).model_dump_json()


def tokens(job: str, n: int, source: str = "north") -> list[Entry]:
    seq = Sequencer()
    return [seq.entry(PKG, job, source, "south", f"{job}:{i}".encode()) for i in range(n)]


def inject(job: str, seq: int) -> Entry:
    """The application's parameter set ``[seq]`` for south (its ``seq``-th on the link)."""
    frame = {"token": "@dfm-control-token", "frame": [seq]}
    return Entry(INJECT, job, APP, "south", seq, [[frame, {}]])


def first_input(job: str) -> list[Entry]:
    return [inject(job, 0)]


def posted(node: SiteNode) -> list[tuple[str, str, Any]]:
    host = node._host
    assert isinstance(host, RecordingHost)
    return host.posted


def test_a_flood_of_entries_for_unknown_jobs_stays_bounded(
    south: SiteNode, caplog: pytest.LogCaptureFixture
) -> None:
    """The attack: any party may name any job id; what a site keeps for them is bounded."""
    rng = random.Random(1)
    big = b"x" * (1024 * 1024)
    flood = [
        Entry(PKG, uuid.UUID(int=rng.getrandbits(128)).hex, "north", "south", 0, b"tiny")
        for _ in range(MAX_ENTRIES + 5_000)
    ]
    with caplog.at_level(logging.WARNING, logger="test-early"):
        for start in range(0, len(flood), 1000):
            south.receive(flood[start : start + 1000])
    early = south.early
    assert early.entries <= MAX_ENTRIES and early.dropped >= 5_000
    warnings = [r for r in caplog.records if "Dropped" in r.getMessage()]
    assert 0 < len(warnings) <= 10, "a flood must not flood the log"
    # bytes: a few large entries hit the byte bound long before the count
    bytes_node = EarlyEntries(LOG, max_entries=10_000)
    kept = sum(bytes_node.keep(Entry(PKG, f"j{i}", "north", "south", 0, big)) for i in range(100))
    assert kept < 100 and bytes_node.bytes <= MAX_BYTES
    # a job whose early entry was dropped does not run with a token missing
    victim = flood[-1].job
    error = south.create(victim, "app", netir(), False)
    assert error is not None and "lost 1 entries" in error and victim in error
    # an honest job created now is not hurt by what is kept for the others
    assert south.create("honest", "app", netir(), False, first=first_input("honest")) is None
    assert posted(south)[-2:] == [("create", "honest", None), ("inject", "honest", ["[0]"])]


def test_entries_before_the_create_follow_it_in_order(south: SiteNode) -> None:
    sent = tokens("j1", 6)
    south.receive([sent[2], sent[0]])  # out of link order, and before the create
    south.receive([sent[1], sent[3]])
    assert south.early.entries == 4
    assert south.create("j1", "app", netir(), False, first=first_input("j1")) is None
    south.receive([sent[5], sent[4]])
    assert posted(south) == [
        ("create", "j1", None),
        ("inject", "j1", ["[0]"]),
        *[("deliver", "", e.data) for e in sent],
    ]
    assert south.early.entries == 0


def test_the_first_entries_keep_their_link_order_with_later_ones(south: SiteNode) -> None:
    """Input seq 1 relayed over the link before the create brought seq 0: 0 then 1."""
    south.receive([inject("j1", 1)])
    assert south.create("j1", "app", netir(), False, first=first_input("j1")) is None
    assert posted(south) == [
        ("create", "j1", None),
        ("inject", "j1", ["[0]"]),
        ("inject", "j1", ["[1]"]),
    ]
    south.receive(first_input("j1"))  # a retried create's entries: already delivered
    assert len(posted(south)) == 3


def test_entries_racing_the_create_are_delivered_once_after_it_in_order(
    south: SiteNode,
) -> None:
    sent = tokens("j1", 2000)
    halfway = threading.Event()

    def link() -> None:
        for start in range(0, len(sent), 7):
            south.receive(sent[start : start + 7])
            if start >= 1000:
                halfway.set()

    sender = threading.Thread(target=link)
    sender.start()
    assert halfway.wait(10)
    assert south.create("j1", "app", netir(), False) is None  # while the link goes on
    sender.join(10)
    assert not sender.is_alive()
    got = posted(south)
    assert got[0] == ("create", "j1", None)
    assert [item for _, _, item in got[1:]] == [e.data for e in sent]


def test_entries_of_an_ended_or_refused_job_are_dropped_not_kept(south: SiteNode) -> None:
    assert south.create("done", "app", netir(), False) is None
    south.site_done("done", "south", None)
    south.receive(tokens("done", 3))
    south.forget("gone")
    south.receive(tokens("gone", 3))
    host = south._host
    assert isinstance(host, RecordingHost)
    host.refuse.add("bad")
    assert south.create("bad", "app", netir(), False) == "site refuses job bad"
    south.receive(tokens("bad", 3))
    assert south.early.entries == 0
    assert [p for p in posted(south) if p[0] == "deliver"] == []
    assert south.create("other", "app", netir("north"), False) is not None  # not its NetIR


def test_early_entries_expire_and_their_job_fails_to_start() -> None:
    now = [0.0]
    early = EarlyEntries(LOG, clock=lambda: now[0])
    assert early.keep(Entry(PKG, "slow", "north", "south", 0, b"a"))
    now[0] = 30.0
    assert early.keep(Entry(PKG, "other", "north", "south", 0, b"b"))
    now[0] = 61.0
    early.expire()
    assert early.entries == 1
    assert early.take("slow") == ([], 1)
    entries, dropped = early.take("other")
    assert [e.data for e in entries] == [b"b"] and dropped == 0


def test_a_flood_that_expires_logs_one_line(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    early = EarlyEntries(logging.getLogger("test-early-expiry"), clock=lambda: now[0])
    for i in range(5_000):  # made-up job ids, none ever created
        early.keep(Entry(PKG, f"fake{i}", "north", "south", 0, b"x"))
    now[0] = 61.0
    with caplog.at_level(logging.WARNING, logger="test-early-expiry"):
        early.expire()
    assert early.entries == 0 and early.bytes == 0
    (line,) = [r.getMessage() for r in caplog.records if "Dropped" in r.getMessage()]
    assert "5000 entries of 5000 job(s)" in line
