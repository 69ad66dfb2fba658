"""The application puts pushed entries back in per-job order and acks what is contiguous."""

from __future__ import annotations

import logging
import random
import threading

import pytest

from dfm.session import JobStream
from dfm.targets.flare import _jobbook
from dfm.targets.flare._job import FlareJobRecord
from dfm.targets.flare._jobbook import JobBook
from dfm.targets.flare._wire import DONE, PKG, Entry, pack

LOG = logging.getLogger("test-jobbook")


class Book:
    """A JobBook with one running job; what it hands the homesite, in order."""

    def __init__(self, expected: int = 0) -> None:
        self.delivered: list[bytes] = []
        self.book = JobBook(self.delivered.append, lambda: None, LOG, max_finished=10)
        self.record = FlareJobRecord(
            "j1", "flare-1", None, JobStream("j1"), None, ["north"], "app",
            lambda record, params: None, lambda record: None, LOG,
        )  # fmt: skip
        self.book.add(self.record, expected=expected)
        self.book.acknowledge("j1")  # the job's handle exists

    def push(self, entries: list[Entry]) -> dict[str, int]:
        return self.book.on_push(pack(entries))


def homesite_tokens(n: int, job: str = "j1", first: int = 0) -> list[Entry]:
    """Packages for the homesite, numbered as the service numbers a job's outbox."""
    return [Entry(PKG, job, "north", "app", first + i, f"t{first + i}".encode()) for i in range(n)]


def test_an_early_push_waits_for_the_one_before_it() -> None:
    app = Book()
    sent = homesite_tokens(6)
    assert app.push(sent[3:]) == {"j1": -1}  # nothing contiguous yet: nothing acked
    assert app.delivered == []
    assert app.push(sent[:3]) == {"j1": 5}
    assert app.delivered == [e.data for e in sent]
    assert app.push(sent[:3]) == {"j1": 5}  # a retried push: nothing applied twice
    assert app.delivered == [e.data for e in sent]


def test_a_lost_push_is_acked_around_and_sent_again_from_the_ack() -> None:
    app = Book()
    sent = homesite_tokens(9)
    assert app.push(sent[:3]) == {"j1": 2}
    # push 3..5 is lost; 6..8 arrives and waits
    assert app.push(sent[6:]) == {"j1": 2}
    # the service sends again from the highest contiguous ack: 3..8
    assert app.push(sent[3:]) == {"j1": 8}
    assert app.delivered == [e.data for e in sent]


def test_a_job_being_attached_is_held_until_its_record_is_complete() -> None:
    """Pushes may come before the attach's reply filled in the record: they wait."""
    app = Book(expected=-1)
    sent = homesite_tokens(5, first=10)
    assert app.push(sent[:2]) == {}  # held: nothing applied, nothing acknowledged
    assert app.push(sent[3:]) == {}
    assert app.delivered == []
    app.book.resume("j1")  # the first push after an attach comes alone: it starts at 10
    assert app.delivered == [e.data for e in sent[:2]]
    assert app.push(sent) == {"j1": 14}  # the service sends what it had no ack for again
    assert app.delivered == [e.data for e in sent]


def test_a_job_attached_before_anything_was_pushed_starts_at_its_first_entry() -> None:
    app = Book(expected=-1)
    app.book.resume("j1")
    sent = homesite_tokens(3, first=7)
    assert app.push(sent[:2]) == {"j1": 8}
    assert app.push(sent[2:]) == {"j1": 9}
    assert app.delivered == [e.data for e in sent]


def test_nothing_is_acknowledged_before_the_jobs_handle_exists() -> None:
    """Results pushed while execute() still waits: a process dying then must not have
    taken them from the service."""
    app = Book()
    book = JobBook(app.delivered.append, lambda: None, LOG, max_finished=10)
    book.add(app.record)
    sent = homesite_tokens(3)
    assert book.on_push(pack(sent[:2])) == {}
    assert app.delivered == [e.data for e in sent[:2]]  # applied all the same
    book.acknowledge("j1")
    assert book.on_push(pack(sent)) == {"j1": 2}  # the service sent them again
    assert app.delivered == [e.data for e in sent]


def test_entries_of_other_jobs_are_acked_so_the_service_drops_them() -> None:
    app = Book()
    stray = [Entry(PKG, "gone", "north", "app", seq, b"x") for seq in (7, 3)]
    assert app.push(stray + homesite_tokens(1)) == {"gone": 7, "j1": 0}
    assert app.delivered == [b"t0"]


def test_too_many_early_entries_are_dropped_for_now_and_come_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_jobbook, "MAX_EARLY", 4)
    app = Book()
    sent = homesite_tokens(12)
    assert app.push(sent[1:]) == {"j1": -1}  # entry 0 is missing; 11 early ones: 4 kept
    assert app.push(sent[:1]) == {"j1": 4}
    assert app.push(sent) == {"j1": 11}  # the service sends the gap again
    assert app.delivered == [e.data for e in sent]


def test_concurrent_out_of_order_pushes_apply_each_entry_once_in_order() -> None:
    app = Book()
    sent = homesite_tokens(3000)
    pushes = [sent[i : i + 50] for i in range(0, len(sent), 50)]
    pushes += random.Random(3).sample(pushes, 10)  # some retried
    random.Random(5).shuffle(pushes)
    acks: list[dict[str, int]] = []
    lock = threading.Lock()

    def cell_thread(mine: list[list[Entry]]) -> None:
        for batch in mine:
            ack = app.push(batch)
            with lock:
                acks.append(ack)

    threads = [threading.Thread(target=cell_thread, args=(pushes[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert app.delivered == [e.data for e in sent]
    assert max(a["j1"] for a in acks) == len(sent) - 1


def test_job_events_apply_in_seq_order_too() -> None:
    app = Book()
    last = homesite_tokens(1)[0]
    done = Entry(DONE, "j1", "north", "@app", 1, None)
    assert app.push([done]) == {"j1": -1}
    assert app.record.running_sites == {"north"}  # done waits for the token before it
    app.push([last])
    assert app.delivered == [b"t0"] and app.record.running_sites == set()
