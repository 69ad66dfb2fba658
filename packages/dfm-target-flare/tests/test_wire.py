"""Sequencing, exactly-once delivery and per-link order of DFM's entries on FLARE."""

from __future__ import annotations

import random

import pytest

from dfm.targets.flare._wire import PKG, Entry, Reorderer, Sequencer, pack, unpack


def entries(n: int, job: str = "j1", source: str = "north", target: str = "south") -> list[Entry]:
    seq = Sequencer()
    return [seq.entry(PKG, job, source, target, f"t{i}".encode()) for i in range(n)]


def test_sequencer_numbers_each_link_from_zero() -> None:
    seq = Sequencer()
    a = [seq.entry(PKG, "j", "north", "south", b"") for _ in range(3)]
    b = seq.entry(PKG, "j", "north", "app", b"")
    c = seq.entry(PKG, "k", "north", "south", b"")
    assert [e.seq for e in a] == [0, 1, 2] and b.seq == 0 and c.seq == 0


def test_duplicates_are_dropped_and_order_is_restored() -> None:
    sent = entries(50)
    arrivals = sent + sent[10:20]  # a retried batch
    random.Random(7).shuffle(arrivals)
    reorderer = Reorderer()
    delivered: list[Entry] = []
    for entry in arrivals:
        delivered += reorderer.accept([entry])
    assert delivered == sent
    assert reorderer.duplicates == 10


def test_links_are_independent() -> None:
    north = entries(3, source="north")
    server = entries(3, source="server")
    reorderer = Reorderer()
    assert reorderer.accept([north[1], server[0]]) == [server[0]]
    assert reorderer.accept([north[0]]) == [north[0], north[1]]
    assert reorderer.expected("j1", "north", "south") == 2


def test_too_many_early_entries_is_an_error() -> None:
    reorderer = Reorderer(max_pending=2)
    sent = entries(5)
    reorderer.accept(sent[2:4])
    with pytest.raises(ValueError, match="ahead of entry 0"):
        reorderer.accept([sent[4]])


def test_forget_drops_a_jobs_state() -> None:
    reorderer = Reorderer()
    reorderer.accept(entries(2))
    reorderer.forget("j1")
    assert reorderer.expected("j1", "north", "south") == 0


def test_batches_round_trip_with_opaque_envelopes() -> None:
    batch = entries(3) + [Entry("inject", "j1", "@app", "north", 0, [[{"frame": [0]}, {}]])]
    assert unpack(pack(batch)) == batch


@pytest.mark.parametrize(
    "raw",
    [b"\x93\x01\x02", b"not msgpack \xc1", pack([]) + b"x"],
)
def test_garbage_is_refused(raw: bytes) -> None:
    try:
        result = unpack(raw)
    except ValueError:
        return
    assert result == []  # an empty batch is harmless


def test_malformed_entries_are_refused() -> None:
    import msgpack

    for bad in (
        [[1, "j", "s", "t", 0, b""]],
        [["pkg", "j", "s", "t", -1, b""]],
        [["pkg", "j", "s", "t", True, b""]],
        [["pkg", "j", "s"]],
        {"a": 1},
    ):
        with pytest.raises(ValueError, match="not a DFM batch"):
            unpack(msgpack.packb(bad))


def test_a_link_numbered_by_another_process_continues_there() -> None:
    seq = Sequencer()
    seq.start_at("j", "@app", "north", 5)
    assert seq.entry("inject", "j", "@app", "north", None).seq == 5
    seq.start_at("j", "@app", "north", 2)  # never back: numbers are never reused
    assert seq.entry("inject", "j", "@app", "north", None).seq == 6
    assert seq.entry("inject", "j", "@app", "south", None).seq == 0
