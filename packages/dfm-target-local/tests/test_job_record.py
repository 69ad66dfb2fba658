"""LocalJobRecord with fake site hosts: how site outcomes become the job's status."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

import pytest

from dfm.api import STATUS_PLACE_NAME, ErrorInfo, ErrorToken, Frame, StopToken
from dfm.irgen import InPlace, NetIR, PreparedPipeline, Transition
from dfm.runtime import SiteHost
from dfm.session import Delivery, DirectDispatcher, InputFramer, JobStatus, JobStream
from dfm.targets.local._job import LocalJobRecord, _all_consumed


class FakeHost(SiteHost):
    def __init__(self, site: str) -> None:
        super().__init__(site)
        self.cancelled: list[str] = []
        self.injected: list[Any] = []

    def create(self, job_id: str, netir: Any, force_modgen: bool) -> Future[None]:
        future: Future[None] = Future()
        future.set_result(None)
        return future

    def inject(self, job_id: str, params: Any) -> None:
        self.injected.append(params)

    def deliver(self, item: Any) -> None:
        pass

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    @property
    def alive(self) -> bool:
        return True

    def close(self, timeout: float) -> None:
        pass


def record_for(sites: tuple[str, ...]) -> tuple[LocalJobRecord, dict[str, FakeHost]]:
    netirs = {
        site: NetIR(
            site=site,
            homesite="home",
            federation_name="f",
            transitions=[
                Transition(name="t0", inputs=[InPlace(name="p", kind="control", origin="external")])
            ],
            external={"__start_place__": ["p"]},
        )
        for site in sites
    }
    prepared = PreparedPipeline(federation_name="f", homesite="home", net_irs_by_site=netirs)
    hosts = {site: FakeHost(site) for site in sites}
    stream = JobStream("j1")
    record = LocalJobRecord(
        "j1", prepared, stream, InputFramer(prepared), hosts, logging.getLogger("t")
    )
    return record, hosts


def test_all_sites_done_ends_the_stream() -> None:
    record, hosts = record_for(("a", "b"))
    record.inject([(Frame([0]), {}), (Frame.stop_frame(), {})])
    assert all(len(h.injected) == 1 for h in hosts.values())
    record.stream.put(Delivery("a", None, Frame.stop_frame(), STATUS_PLACE_NAME, StopToken()))
    record.site_done("a", None)
    assert not record.stream.wait(0.1)
    record.site_done("b", None)
    record.site_done("b", None)  # a repeated report changes nothing
    assert record.stream.wait(2) and record.stream.status is JobStatus.FINISHED


def test_runner_failure_cancels_other_sites_and_fails_the_job() -> None:
    record, hosts = record_for(("a", "b", "c"))
    record.site_done("a", "internal failure on site 'a': RuntimeError: bug")
    assert hosts["b"].cancelled == ["j1"] and hosts["c"].cancelled == ["j1"]
    assert hosts["a"].cancelled == []
    record.site_done("b", None)
    record.site_done("c", None)
    assert record.stream.wait(2) and record.stream.status is JobStatus.FAILED
    assert record.stream.errors == ["internal failure on site 'a': RuntimeError: bug"]


def test_time_out_names_the_running_sites() -> None:
    record, hosts = record_for(("a", "b"))
    record.site_done("a", None)
    record.time_out(1.5)
    assert record.stream.status is JobStatus.FAILED
    assert record.stream.errors == ["timed out after 1.5s (site(s) still running: b)"]
    assert hosts["b"].cancelled == ["j1"]
    record.time_out(1.5)  # already final: nothing more
    assert hosts["b"].cancelled == ["j1"]


def attach_recorder(record: LocalJobRecord) -> list[Delivery]:
    got: list[Delivery] = []
    runner = DirectDispatcher().create_runner(lambda *a: got.append(Delivery(*a)), None)
    assert record.stream.attach(runner).wait(2)
    return got


def test_a_failed_site_still_ends_every_frame_with_a_status() -> None:
    record, hosts = record_for(("a", "b"))
    got = attach_recorder(record)
    record.framer.send([{}, {}, {}], record.inject)  # frames [0]-[2]
    record.stream.put(Delivery("a", None, Frame([1]), STATUS_PLACE_NAME, StopToken()))
    assert record.fail("site 'b' stopped: its process exited with code 3", "SiteFailure", "b")
    assert record.stream.status is JobStatus.FAILED
    assert hosts["a"].cancelled == ["j1"] and hosts["b"].cancelled == ["j1"]
    assert record.stream.wait(2)
    reason = "site 'b' stopped: its process exited with code 3"
    assert record.stream.errors == [reason]
    error = ErrorToken(errors=[ErrorInfo(type="SiteFailure", message=reason, site="b")])
    assert [(t.frame, t.data) for t in got] == [
        (Frame([1]), StopToken()),
        (Frame([0]), error),
        (Frame([2]), error),
        (Frame.stop_frame(), error),
    ]
    assert {t.from_site for t in got[1:]} == {"home"} and {t.place for t in got} == {
        STATUS_PLACE_NAME
    }
    with pytest.raises(RuntimeError, match="no more input"):
        record.framer.send([{}], record.inject)


def test_a_runner_failure_ends_the_open_frames_with_its_reason() -> None:
    record, hosts = record_for(("a", "b"))
    got = attach_recorder(record)
    record.framer.send([{}], record.inject)
    record.site_done("a", "internal failure on site 'a': RuntimeError: bug")
    record.site_done("b", None)
    assert record.stream.wait(2) and record.stream.status is JobStatus.FAILED
    reason = "internal failure on site 'a': RuntimeError: bug"
    error = ErrorToken(errors=[ErrorInfo(type="SiteFailure", message=reason, site="a")])
    assert [(t.frame, t.data) for t in got] == [(Frame([0]), error), (Frame.stop_frame(), error)]


def test_time_out_ends_with_job_timeout_statuses_but_cancel_stays_silent() -> None:
    record, _ = record_for(("a", "b"))
    got = attach_recorder(record)
    record.time_out(2.0)
    assert record.stream.wait(2)
    reason = "timed out after 2s (site(s) still running: a, b)"
    error = ErrorToken(errors=[ErrorInfo(type="JobTimeout", message=reason, site="a")])
    assert [(t.frame, t.data) for t in got] == [(Frame.stop_frame(), error)]
    aborted, _ = record_for(("a",))
    silent = attach_recorder(aborted)
    aborted.abort()
    aborted.time_out(1.0)  # already final: nothing
    aborted.stream.put(Delivery("a", None, Frame([0]), STATUS_PLACE_NAME, StopToken()))
    assert aborted.stream.wait(2) and aborted.stream.status is JobStatus.ABORTED
    assert silent == []


def test_a_site_takes_the_sets_as_they_are_only_when_pick_would_return_them() -> None:
    stop = (Frame.stop_frame(), {})
    one = (Frame.start_frame(0), {"a": ("json", 1)})
    assert _all_consumed(["a", "__start_place__"], [one, stop])
    assert not _all_consumed(["a", "b"], [one])  # b missing: pick raises
    assert not _all_consumed(["b"], [one])  # a not for this site: pick drops it
    assert not _all_consumed(["a"], [(Frame.stop_frame(), {"a": ("json", 1)})])
