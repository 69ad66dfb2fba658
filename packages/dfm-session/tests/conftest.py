"""Fixtures: a fake target registered through a patched entry-point scan, a tiny pipeline.

(Time bounds, the cache folder and recorders come from the dfm-testkit pytest plugin.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dfm.api import STATUS_PLACE_NAME, ErrorInfo, ErrorToken, Frame, StopToken
from dfm.irgen import InPlace, NetIR, PreparedPipeline, Transition, YieldPlace
from dfm.session import (
    CallbackRunner,
    Delivery,
    ExecuteRequest,
    FramedParams,
    InputFramer,
    Job,
    JobStream,
    StreamJob,
    Target,
    UnknownJob,
    _discovery,
    clear_target_cache,
)


class FakeJob(StreamJob):
    """Echoes parameter 'a' as a yield on site 'home'; 'boom' becomes an ErrorToken."""

    target: FakeTarget

    def _submit(self, framed: FramedParams) -> None:
        if any(v.get("a") == "unsendable" for _, v in framed):
            raise ValueError("cannot send 'unsendable'")
        for frame, values in framed:
            self.target.submitted.append(frame)
            if frame.is_stop_frame():
                if not self.target.hang:
                    self.stream.put(Delivery("home", None, frame, STATUS_PLACE_NAME, StopToken()))
                    self.stream.end()
                continue
            value = values.get("a")
            if value == "boom":
                error = ErrorToken(errors=[ErrorInfo(type="ValueError", message="boom")])
                self.stream.put(Delivery("home", 1, frame, "yield", error))
                self.stream.put(Delivery("home", None, frame, STATUS_PLACE_NAME, error))
            else:
                self.stream.put(Delivery("home", 1, frame, "yield", value))
                self.stream.put(Delivery("home", None, frame, STATUS_PLACE_NAME, StopToken()))

    def _cancel(self) -> None:
        self.target.cancelled.append(self.job_id)


class FakeTarget(Target):
    name = "fake"

    def __init__(self, session_info: Any, *, hang: bool = False, color: str = "red") -> None:
        super().__init__(session_info)
        self.hang = hang
        self.color = color
        self.connected = 0
        self.closed = 0
        self.submitted: list[Frame] = []
        self.cancelled: list[str] = []
        self.jobs: dict[str, tuple[JobStream, InputFramer]] = {}
        self.last_options: Any = None

    def connect(self) -> None:
        self.connected += 1

    def close(self) -> None:
        self.closed += 1

    def _handle(self, job_id: str, runner: CallbackRunner | None) -> FakeJob:
        stream, framer = self.jobs[job_id]
        job = FakeJob(stream, framer, runner)
        job.target = self
        return job

    def execute(self, request: ExecuteRequest) -> Job:
        self.last_options = request.options
        job_id = uuid.uuid4().hex[:8]
        stream = JobStream(job_id)
        self.jobs[job_id] = (
            stream,
            InputFramer(request.prepared, request.next_frame, request.stopped),
        )
        job = self._handle(job_id, request.runner)
        stream.set_running()
        job._submit(request.params)
        return job

    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        if job_id not in self.jobs:
            return UnknownJob(job_id)
        return self._handle(job_id, runner)


@dataclass
class FakeDist:
    name: str
    version: str


@dataclass
class FakeEntryPoint:
    name: str
    value: str
    dist: FakeDist | None
    obj: Any = None
    error: BaseException | None = None

    def load(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.obj


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeEntryPoint]]:
    """The patched content of the dfm.targets group; starts with the fake target."""
    eps = [
        FakeEntryPoint(
            "fake", "fake_mod:FakeTarget", FakeDist("dfm-target-fake", "1.2"), FakeTarget
        )
    ]
    monkeypatch.setattr(_discovery, "_entry_points", lambda: list(eps))
    clear_target_cache()
    yield eps
    clear_target_cache()


def make_prepared(param_places: tuple[str, ...] = ("a",)) -> PreparedPipeline:
    netir = NetIR(
        site="home",
        homesite="home",
        federation_name="fakefed",
        transitions=[
            Transition(name="t0", inputs=[InPlace(name="p0", kind="control", origin="external")])
        ],
        external={"__start_place__": ["p0"], **{p: ["p0"] for p in param_places}},
    )
    return PreparedPipeline(
        federation_name="fakefed",
        homesite="home",
        net_irs_by_site={"home": netir},
        yield_places=[
            YieldPlace(kind="data", place="yield"),
            YieldPlace(kind="control", place=STATUS_PLACE_NAME),
        ],
        param_places=list(param_places),
        status_site="home",
    )


@pytest.fixture
def prepared() -> PreparedPipeline:
    return make_prepared()


@pytest.fixture
def city_prepared() -> PreparedPipeline:
    """A pipeline whose only PlaceParam is 'city'."""
    return make_prepared(("city",))
