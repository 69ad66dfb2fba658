"""LinkSender: batched, several batches in flight, retried until acknowledged; LinkOrder."""

from __future__ import annotations

import logging
import threading

import pytest

from dfm.targets.flare._linkorder import MAX_AHEAD, LinkOrder, LinkOrderError
from dfm.targets.flare._sender import Batch, LinkSender
from dfm.targets.flare._wire import PKG, Entry, Reorderer, Sequencer


def test_batches_in_order_and_retries_failed_sends() -> None:
    received: list[Entry] = []
    batches: list[int] = []
    reorderer = Reorderer()
    lock = threading.Lock()
    order = LinkOrder(lambda entries: received.extend(reorderer.accept(entries)))
    gate = threading.Event()
    calls = {"n": 0}

    def transport(destination: str, batch: Batch) -> bool:
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
        gate.wait(5)  # slow sends: everything else queues behind the ones in flight
        if first:
            order.receive(batch.link, batch.number, batch.entries)
            return False  # delivered, but the acknowledgement was lost: sent again
        with lock:
            batches.append(len(batch.entries))
        order.receive(batch.link, batch.number, batch.entries)
        return True

    sender = LinkSender("south", transport, logging.getLogger("test"), retry_interval=0.01)
    seq = Sequencer()
    sent = [seq.entry(PKG, "j", "north", "south", str(i).encode()) for i in range(500)]
    sender.put(sent[:1])
    for entry in sent[1:]:
        sender.put([entry])
    gate.set()
    assert sender.wait_idle(10)
    sender.close()
    assert received == sent  # exactly once, in order
    assert order.duplicates > 0  # the retried first batch
    assert len(batches) < 20  # 500 entries in a handful of messages


def test_a_batch_does_not_wait_for_the_reply_to_the_one_before() -> None:
    release = threading.Event()
    started: list[int] = []
    both = threading.Event()

    def transport(destination: str, batch: Batch) -> bool:
        started.append(batch.number)
        if len(started) == 2:
            both.set()
        release.wait(5)  # neither reply comes before both batches went out
        return True

    sender = LinkSender("south", transport, logging.getLogger("test"), window=2)
    seq = Sequencer()
    sender.put([seq.entry(PKG, "j", "north", "south", b"a")])
    assert _eventually(lambda: len(started) == 1)
    sender.put([seq.entry(PKG, "j", "north", "@app", b"b")])
    assert both.wait(5)
    release.set()
    assert sender.wait_idle(5)
    sender.close()
    assert started == [0, 1]


def test_link_order_handles_batches_in_send_order() -> None:
    handled: list[list[Entry]] = []
    order = LinkOrder(handled.append)
    seq = Sequencer()
    a, b, c = ([seq.entry(PKG, "j", "s", t, b"")] for t in ("x", "y", "z"))
    order.receive("L", 2, c)
    order.receive("L", 1, b)
    assert handled == []  # batch 0 is still missing
    order.receive("L", 0, a)
    order.receive("L", 1, b)  # a retry
    assert handled == [a, b, c]
    assert order.duplicates == 1
    order.receive("M", 0, a)  # another link numbers on its own
    assert handled[-1] == a


def test_link_order_refuses_impossible_numbers() -> None:
    order = LinkOrder(lambda entries: None)
    with pytest.raises(LinkOrderError, match="negative"):
        order.receive("L", -1, [])
    with pytest.raises(LinkOrderError, match="never came"):
        order.receive("L", MAX_AHEAD + 1, [])


def test_dropped_jobs_are_not_sent() -> None:
    got: list[Entry] = []
    sender = LinkSender("x", lambda d, b: got.extend(b.entries) or True, logging.getLogger("test"))
    sender.drop_job("gone")
    seq = Sequencer()
    sender.put([seq.entry(PKG, "gone", "a", "x", b""), seq.entry(PKG, "kept", "a", "x", b"")])
    assert sender.wait_idle(5)
    sender.close()
    assert [e.job for e in got] == ["kept"]


def _eventually(check: object, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.005)
    return False
