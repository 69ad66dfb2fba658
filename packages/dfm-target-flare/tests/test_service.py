"""The service's job table: status, outbox until acknowledged, replay after reattach."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from dfm.api import Frame
from dfm.session import JobStream
from dfm.targets.flare import _service
from dfm.targets.flare._job import FlareJobRecord
from dfm.targets.flare._jobbook import JobBook
from dfm.targets.flare._jobrecord import JobRecord
from dfm.targets.flare._service import PUSH_WINDOW, JobTable
from dfm.targets.flare._wire import APP, DONE, END, FAIL, INJECT, PKG, Entry, pack


class App:
    """A fake application cell: records pushes, acknowledges them unless told not to."""

    def __init__(self) -> None:
        self.got: list[Entry] = []
        self.online = True
        self.event = threading.Event()

    def push(self, fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
        if not self.online:
            return None
        self.got.extend(entries)
        self.event.set()
        acks: dict[str, int] = {}
        for e in entries:
            acks[e.job] = max(acks.get(e.job, -1), e.seq)
        return acks


def table() -> tuple[JobTable, App, list[Any]]:
    app, failed = App(), []
    jobs = JobTable(app.push, logging.getLogger("t"), lambda j, s: failed.append((j, s)))
    return jobs, app, failed


def wait_for(app: App, n: int) -> None:
    for _ in range(200):
        if len(app.got) >= n:
            return
        app.event.wait(0.05)
        app.event.clear()
    raise AssertionError(f"only {len(app.got)} of {n} entries pushed")


def test_outbox_is_pushed_in_order_and_dropped_once_acknowledged() -> None:
    jobs, app, _ = table()
    record = JobRecord("j", "app", ["north", "south"], "p")
    record.subscriber = "admin_1"
    jobs.add(record)
    for i in range(5):
        jobs.to_app(Entry(PKG, "j", "north", APP, i, f"{i}".encode()))
    jobs.to_app(Entry(DONE, "j", "north", APP, 5, None))
    jobs.to_app(Entry(DONE, "j", "south", APP, 0, None))
    wait_for(app, 8)
    assert [e.seq for e in app.got] == list(range(8))
    assert app.got[-1].kind == END
    assert record.status == "ENDED" and not record.outbox
    jobs.final("j", "FINISHED", [])
    assert jobs.get("j") is not None and jobs.get("j").status == "FINISHED"  # type: ignore[union-attr]
    jobs.close()


def test_a_failed_site_fails_the_job_and_cancels_the_others() -> None:
    jobs, app, failed = table()
    record = JobRecord("j", "app", ["north", "south"], "p")
    jobs.add(record)
    assert jobs.fail_site("south", "site 'south' stopped responding") == ["j"]
    assert record.status == "FAILED" and "south" in record.errors[0]
    assert failed == [("j", ["north", "south"])]
    assert [e.kind for e in record.outbox] == [FAIL, END]
    jobs.close()


def test_entries_wait_for_an_application_and_replay_after_reattach() -> None:
    jobs, app, _ = table()
    app.online = False
    record = JobRecord("j", "app", ["north"], "p")
    record.subscriber = "admin_gone"
    jobs.add(record)
    for i in range(3):
        jobs.to_app(Entry(PKG, "j", "north", APP, i, b"x"))
    app.event.wait(0.3)
    assert len(record.outbox) == 3 and not app.got
    app.online = True
    jobs.attach("j", "admin_new")
    wait_for(app, 3)
    assert [e.seq for e in app.got] == [0, 1, 2]
    assert not record.outbox
    jobs.close()


def test_cancel_marks_aborted_and_unknown_jobs_are_ignored() -> None:
    jobs, _, _ = table()
    jobs.add(JobRecord("j", "app", ["north"], "p"))
    assert jobs.cancel("j") is not None
    assert jobs.get("j").status == "ABORTED"  # type: ignore[union-attr]
    assert jobs.cancel("nope") is None
    jobs.to_app(Entry(PKG, "nope", "north", APP, 0, b""))
    jobs.close()


def test_the_table_notes_where_a_jobs_input_is() -> None:
    jobs, _, _ = table()
    jobs.add(JobRecord("j1", "app", ["north", "south"], "p"))

    def inject(seq: int, frames: list[Frame], source: str = APP) -> Entry:
        data = [[f.to_json(), {}] for f in frames]
        return Entry(INJECT, "j1", source, "north", seq, data)

    jobs.note_input([inject(0, [Frame.start_frame(0), Frame.start_frame(1)])])
    record = jobs.get("j1")
    assert record is not None
    assert record.extra["next_frame"] == 2 and "stopped" not in record.extra
    jobs.note_input([inject(0, [Frame.start_frame(0)])])  # a retried batch changes nothing
    jobs.note_input([inject(1, [Frame.start_frame(7)], source="north")])  # not the app's
    jobs.note_input([Entry(INJECT, "j1", APP, "north", 2, "garbage"), inject(3, [])])
    assert record.extra["next_frame"] == 2
    jobs.note_input([inject(4, [Frame.start_frame(2), Frame.stop_frame()])])
    assert record.extra["next_frame"] == 3 and record.extra["stopped"] is True
    jobs.close()


class GatedApp:
    """An application cell whose pushes wait at a gate; counts pushes in flight."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gates: dict[str, threading.Event] = {}  # by application cell (default: gate)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.started = threading.Semaphore(0)
        self.got: list[list[Entry]] = []

    def push(self, fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.got.append(entries)
        self.started.release()
        self.gates.get(fqcn, self.gate).wait(10)
        with self.lock:
            self.in_flight -= 1
        return {e.job: e.seq for e in entries}

    def wait_started(self, n: int) -> None:
        for _ in range(n):
            assert self.started.acquire(timeout=10), "a push did not start"


def running_job(jobs: JobTable, job: str = "j", subscriber: str = "admin_1") -> JobRecord:
    record = JobRecord(job, "app", ["north"], "p")
    record.subscriber = subscriber
    jobs.add(record)
    return record


def eventually(condition: Any, what: str) -> None:
    for _ in range(400):
        if condition():
            return
        threading.Event().wait(0.025)
    raise AssertionError(what)


def test_a_push_does_not_wait_for_the_reply_to_the_one_before() -> None:
    app = GatedApp()
    jobs = JobTable(app.push, logging.getLogger("t"), lambda j, s: None)
    record = running_job(jobs)
    jobs.to_app(Entry(PKG, "j", "north", APP, 0, b"0"))
    app.wait_started(1)
    jobs.to_app(Entry(PKG, "j", "north", APP, 1, b"1"))  # the first push is still in flight
    app.wait_started(1)
    assert app.in_flight == 2 and [len(b) for b in app.got] == [1, 1]
    app.gate.set()
    eventually(lambda: not record.outbox, "the outbox was not acknowledged")
    jobs.close()


def test_pushes_in_flight_per_application_stay_within_the_window() -> None:
    app = GatedApp()
    jobs = JobTable(app.push, logging.getLogger("t"), lambda j, s: None)
    record = running_job(jobs)
    for i in range(3 * PUSH_WINDOW):
        jobs.to_app(Entry(PKG, "j", "north", APP, i, b"x"))
        if i < PUSH_WINDOW:
            app.wait_started(1)
    assert app.most == PUSH_WINDOW
    app.gate.set()
    eventually(lambda: not record.outbox, "the outbox was not acknowledged")
    assert app.most == PUSH_WINDOW
    assert sorted(e.seq for b in app.got for e in b) == list(range(3 * PUSH_WINDOW))
    jobs.close()


def test_a_failed_push_is_sent_again_from_the_contiguous_ack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Server table and application book together: a push lost while later ones got
    through; the book waits for the gap, the table sends it again, nothing is lost."""
    monkeypatch.setattr(_service, "UNREACHABLE_PAUSE", 0.01)
    delivered: list[bytes] = []
    book = JobBook(delivered.append, lambda: None, logging.getLogger("t"), max_finished=10)
    book.add(
        FlareJobRecord(
            "j", "flare-1", None, JobStream("j"), None, ["north"], "app",
            lambda r, p: None, lambda r: None, logging.getLogger("t"),
        )
    )  # fmt: skip
    book.acknowledge("j")
    calls = {"n": 0}
    first_started = threading.Event()
    first_lost = threading.Event()
    later_through = threading.Event()

    def push(fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
        calls["n"] += 1
        if calls["n"] == 1:  # lost, but only after a later push got through
            first_started.set()
            later_through.wait(10)
            first_lost.set()
            return None
        acks = book.on_push(pack(entries))
        later_through.set()
        return acks

    jobs = JobTable(push, logging.getLogger("t"), lambda j, s: None)
    record = running_job(jobs)
    sent = [Entry(PKG, "j", "north", "app", i, f"t{i}".encode()) for i in range(20)]
    jobs.to_app(sent[0])
    assert first_started.wait(10)
    for entry in sent[1:]:
        jobs.to_app(entry)
    eventually(lambda: not record.outbox, "the outbox was not acknowledged")
    assert first_lost.is_set()
    assert delivered == [e.data for e in sent]
    jobs.close()


def test_after_an_attach_the_first_push_of_a_job_goes_alone_and_old_replies_are_stale() -> None:
    app = GatedApp()
    old = app.gates["admin_old"] = threading.Event()
    new = app.gates["admin_new"] = threading.Event()
    jobs = JobTable(app.push, logging.getLogger("t"), lambda j, s: None)
    record = running_job(jobs, subscriber="admin_old")
    jobs.to_app(Entry(PKG, "j", "north", APP, 0, b"0"))
    app.wait_started(1)  # in flight to the old process
    jobs.attach("j", "admin_new")
    app.wait_started(1)  # the new process gets everything not acknowledged: entry 0
    jobs.to_app(Entry(PKG, "j", "north", APP, 1, b"1"))
    jobs.to_app(Entry(PKG, "j", "north", APP, 2, b"2"))
    old.set()  # the old process acknowledges entry 0: too late, it is not the subscriber
    eventually(lambda: app.in_flight == 1, "the old push did not return")
    assert record.acked == -1 and len(record.outbox) == 3
    assert not app.started.acquire(timeout=0.2), "a second push before the first's reply"
    assert [[e.seq for e in b] for b in app.got] == [[0], [0]]
    new.set()
    eventually(lambda: not record.outbox, "the outbox was not acknowledged")
    assert [e.seq for b in app.got[2:] for e in b] == [1, 2]
    jobs.close()


def test_entries_the_application_did_not_acknowledge_are_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A push answered without acknowledging its entries (the application could not keep
    them, or held them): once no push is in flight, they are sent again."""
    monkeypatch.setattr(_service, "RESEND_AFTER", 0.05)
    replies: list[dict[str, int]] = [{}, {"j": -1}]  # then: everything
    got: list[list[int]] = []

    def push(fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
        got.append([e.seq for e in entries])
        return replies.pop(0) if replies else {"j": max(e.seq for e in entries)}

    jobs = JobTable(push, logging.getLogger("t"), lambda j, s: None)
    record = running_job(jobs)
    with jobs._cond:  # all three in the first push
        for i in range(3):
            jobs.to_app(Entry(PKG, "j", "north", APP, i, b"x"))
    eventually(lambda: not record.outbox, "the entries were not sent again")
    assert got == [[0, 1, 2]] * 3
    jobs.close()


def test_the_final_status_drops_what_the_application_did_not_acknowledge() -> None:
    jobs, app, _ = table()
    app.online = False
    record = running_job(jobs, subscriber="admin_1")
    jobs.to_app(Entry(PKG, "j", "north", APP, 0, b"x"))
    jobs.to_app(Entry(DONE, "j", "north", APP, 1, None))
    assert record.outbox
    jobs.final("j", "FINISHED", [])
    assert not record.outbox and jobs.running() == [] and jobs.get("j") is record
    assert record.status == "FINISHED"
    jobs.close()
