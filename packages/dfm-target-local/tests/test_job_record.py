"""LocalJobRecord with fake site hosts: how site outcomes become the job's status."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

from dfm.api import STATUS_PLACE_NAME, Frame, StopToken
from dfm.irgen import InPlace, NetIR, PreparedPipeline, Transition
from dfm.session import Delivery, InputFramer, JobStatus, JobStream
from dfm.targets.local._host import SiteHost
from dfm.targets.local._job import LocalJobRecord


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
