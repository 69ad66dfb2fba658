"""The service's job table: status, outbox until acknowledged, replay after reattach."""

from __future__ import annotations

import logging
import threading
from typing import Any

from dfm.api import Frame
from dfm.targets.flare._service import JobRecord, JobTable
from dfm.targets.flare._wire import APP, DONE, END, FAIL, INJECT, PKG, Entry


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
