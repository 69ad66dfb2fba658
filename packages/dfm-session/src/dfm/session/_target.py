"""Target: the plugin interface a place to run jobs implements."""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ._callbacks import CallbackRunner
from ._job import FramedParams, Job

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline

TARGET_API_VERSION = 2
"""The version of the :class:`Target` interface this dfm-session implements.

Version 2: ``execute`` takes one :class:`ExecuteRequest`; targets declare
``default_priority``.
"""


@dataclass(frozen=True)
class SessionInfo:
    """What a target knows about the session that created it.

    Attributes:
        federation_name: The federation package, e.g. ``examplefed``.
        homesite: The site the application runs at.
        logger: The target's logger (a child of the session's).
    """

    federation_name: str
    homesite: str
    logger: logging.Logger


@dataclass(frozen=True)
class ExecuteRequest:
    """Everything a target needs to start one job.

    Attributes:
        prepared: The pipeline to run.
        params: Validated parameter sets with frames ``[0]``, ``[1]``, …, and the stop
            frame last when the job should stop after them.
        next_frame: The index the next parameter set of this job will get.
        runner: Delivers the job's tokens to the callbacks.
        options: Per-job target options (target specific), or None.
        force_modgen: Regenerate site code instead of using caches.
        debug: Log more.
    """

    prepared: PreparedPipeline
    params: FramedParams
    next_frame: int
    runner: CallbackRunner
    options: Any = None
    force_modgen: bool = False
    debug: bool = False

    @property
    def stopped(self) -> bool:
        """Whether ``params`` ends with the stop frame (no more input will come)."""
        return bool(self.params) and self.params[-1][0].is_stop_frame()


class Target(ABC):
    """Where jobs run: the local process, NVIDIA FLARE, or a third-party system.

    A target is a class registered under the entry-point group ``dfm.targets``; the
    entry-point name is what users pass as ``Session(target=...)`` or ``DFM_TARGET``.
    The session hands it prepared pipelines with parameter sets already validated and
    framed; the target ships them, routes tokens and returns a :class:`Job`.
    :class:`~dfm.session.StreamJob` and :class:`~dfm.session.JobStream` do the
    application side (callbacks, status, waiting) for you.

    Options: the session passes its extra keyword arguments to the constructor. Declare
    them as keyword-only parameters; :meth:`check_options` then rejects unknown ones
    with a message listing the accepted ones.

    A minimal third-party target (distribution ``dfm-target-echo``, module
    ``dfm_target_echo``) that echoes every parameter set back::

        import uuid
        from dfm.api import STATUS_PLACE_NAME, StopToken
        from dfm.session import (
            Delivery, InputFramer, JobStream, StreamJob, Target, UnknownJob)

        class EchoJob(StreamJob):
            def _submit(self, framed):          # parameter sets, or the stop frame
                for frame, values in framed:
                    if not frame.is_stop_frame():
                        self.stream.put(Delivery("echo", 0, frame, "yield", values))
                    self.stream.put(Delivery("echo", None, frame, STATUS_PLACE_NAME, StopToken()))
                    if frame.is_stop_frame():
                        self.stream.end()       # no more tokens: the job is over

            def _cancel(self):                  # stop the job's sites (none here)
                pass

        class EchoTarget(Target):
            name = "echo"
            target_api_version = 2

            def __init__(self, session_info, *, greeting: str = "hi"):  # the options
                super().__init__(session_info)
                self.jobs = {}

            def connect(self): ...
            def close(self): ...

            def execute(self, request):
                stream = JobStream(uuid.uuid4().hex[:8])
                framer = InputFramer(request.prepared, request.next_frame, request.stopped)
                self.jobs[stream.job_id] = (stream, framer)
                job = EchoJob(stream, framer, request.runner)
                stream.set_running()
                job._submit(request.params)
                return job

            def reattach(self, job_id, runner):
                if job_id not in self.jobs:
                    return UnknownJob(job_id)
                return EchoJob(*self.jobs[job_id], runner)

    and the lines of its ``pyproject.toml`` that register it::

        [project]
        dependencies = ["dfm-session>=0.1,<0.2"]   # target API version 2

        [project.entry-points."dfm.targets"]
        echo = "dfm_target_echo:EchoTarget"

    The module the entry point names must be cheap to import (sessions load every
    installed target class to choose the default): import heavy dependencies inside
    the methods that need them.

    Attributes:
        name: The entry-point name the target is registered under.
        target_api_version: The version of this interface the target implements; it
            must equal :data:`TARGET_API_VERSION`.
        default_priority: How strongly the target asks to be the default when neither
            ``target=`` nor ``DFM_TARGET`` names one: the installed target with the
            highest priority is used. A target that runs with no set-up (the embedded
            ``local`` target: 100) declares a high one; a target that needs a running
            system or credentials declares 0.
    """

    name: ClassVar[str] = ""
    target_api_version: ClassVar[int] = TARGET_API_VERSION
    default_priority: ClassVar[int] = 0

    def __init__(self, session_info: SessionInfo) -> None:
        """Keep the session info; subclasses add their options as keyword-only arguments."""
        self.session_info = session_info

    @property
    def logger(self) -> logging.Logger:
        """The target's logger."""
        return self.session_info.logger

    @classmethod
    def accepted_options(cls) -> list[str] | None:
        """The option names the constructor takes, or None if it takes any (``**kwargs``)."""
        params = list(inspect.signature(cls.__init__).parameters.values())[2:]
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return [
            p.name
            for p in params
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> None:
        """Reject options the target does not accept.

        Raises:
            TypeError: Naming the unknown options and listing the accepted ones.
        """
        accepted = cls.accepted_options()
        if accepted is None:
            return
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            listed = ", ".join(accepted) if accepted else "none"
            raise TypeError(
                f"Target {cls.name or cls.__name__!r} does not accept the option(s) "
                f"{', '.join(unknown)}; accepted options: {listed}"
            )

    @abstractmethod
    def connect(self) -> None:
        """Get ready to run jobs (idempotent)."""

    @abstractmethod
    def close(self) -> None:
        """Abort running jobs and release resources (idempotent)."""

    @abstractmethod
    def execute(self, request: ExecuteRequest) -> Job:
        """Start a job and return it without waiting for it to finish.

        Raises:
            ValueError: The job cannot start (e.g. an API version mismatch on a site);
                the target never hangs.
        """

    @abstractmethod
    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        """A new handle on a job of this target; an :class:`UnknownJob` if unknown."""
