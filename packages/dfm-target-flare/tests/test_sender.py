"""LinkSender: in order, batched, retried until acknowledged."""

from __future__ import annotations

import logging
import threading

from dfm.targets.flare._sender import LinkSender
from dfm.targets.flare._wire import PKG, Entry, Reorderer, Sequencer


def test_batches_in_order_and_retries_failed_sends() -> None:
    received: list[Entry] = []
    batches: list[int] = []
    reorderer = Reorderer()
    gate = threading.Event()
    calls = {"n": 0}

    def transport(destination: str, batch: list[Entry]) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            gate.wait(5)  # the first send is slow: everything else queues behind it
            received.extend(reorderer.accept(batch))
            return False  # delivered, but the acknowledgement was lost: sent again
        batches.append(len(batch))
        received.extend(reorderer.accept(batch))
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
    assert len(batches) < 10  # 500 entries in a handful of messages
    assert reorderer.duplicates > 0


def test_dropped_jobs_are_not_sent() -> None:
    got: list[Entry] = []
    sender = LinkSender("x", lambda d, b: got.extend(b) or True, logging.getLogger("test"))
    sender.drop_job("gone")
    seq = Sequencer()
    sender.put([seq.entry(PKG, "gone", "a", "x", b""), seq.entry(PKG, "kept", "a", "x", b"")])
    assert sender.wait_idle(5)
    sender.close()
    assert [e.job for e in got] == ["kept"]
