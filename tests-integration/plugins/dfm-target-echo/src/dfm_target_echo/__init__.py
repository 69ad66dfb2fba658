"""dfm-target-echo: a toy DFM target that echoes each parameter set back."""

from __future__ import annotations

import uuid

from dfm.api import STATUS_PLACE_NAME, StopToken
from dfm.session import (
    CallbackRunner,
    Delivery,
    ExecuteRequest,
    FramedParams,
    InputFramer,
    Job,
    JobStream,
    SessionInfo,
    StreamJob,
    Target,
    UnknownJob,
)

__all__ = ["EchoJob", "EchoTarget"]


class EchoJob(StreamJob):
    """Yields each parameter set (without the start signal) as ``greeting, values``."""

    greeting = ""
    homesite = ""

    def _submit(self, framed: FramedParams) -> None:
        site = self.homesite
        for frame, values in framed:
            if frame.is_stop_frame():
                self.stream.put(Delivery(site, None, frame, STATUS_PLACE_NAME, StopToken()))
                self.stream.end()
                continue
            data = {k: v for k, v in values.items() if not k.startswith("__")}
            self.stream.put(Delivery(site, 0, frame, "yield", (self.greeting, data)))
            self.stream.put(Delivery(site, None, frame, STATUS_PLACE_NAME, StopToken()))

    def _cancel(self) -> None:
        pass


class EchoTarget(Target):
    """The ``echo`` target: no sites, every job answers at once.

    Args:
        session_info: The session's federation, homesite and logger.
        greeting: Prepended to every echoed parameter set.
    """

    name = "echo"
    target_api_version = 2

    def __init__(self, session_info: SessionInfo, *, greeting: str = "echo") -> None:
        """Keep the greeting."""
        super().__init__(session_info)
        self.greeting = greeting
        self._jobs: dict[str, tuple[JobStream, InputFramer]] = {}

    def connect(self) -> None:
        """Nothing to connect to."""

    def close(self) -> None:
        """Forget every job."""
        self._jobs.clear()

    def _handle(self, job_id: str, runner: CallbackRunner | None) -> EchoJob:
        stream, framer = self._jobs[job_id]
        job = EchoJob(stream, framer, runner)
        job.greeting = self.greeting
        job.homesite = self.session_info.homesite
        return job

    def execute(self, request: ExecuteRequest) -> Job:
        """Echo the parameter sets."""
        job_id = uuid.uuid4().hex[:8]
        framer = InputFramer(request.prepared, request.next_frame, request.stopped)
        self._jobs[job_id] = (JobStream(job_id), framer)
        job = self._handle(job_id, request.runner)
        job.stream.set_running()
        job._submit(request.params)
        return job

    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        """A handle on an echo job of this session, else UNKNOWN."""
        if job_id not in self._jobs:
            return UnknownJob(job_id)
        return self._handle(job_id, runner)
