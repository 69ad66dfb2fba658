"""DFM sessions: run pipelines on any installed target and receive their results.

Example::

    from dfm.session import Session

    with Session("examplefed", homesite="concierge") as session:
        prepared = session.prepare(pipeline)
        job = session.execute(prepared, {"name": "Ada"}, default_callback=print)
        job.wait_until_finished()

Targets are plugins (entry-point group ``dfm.targets``); see :class:`Target`.
"""

from ._callbacks import (
    CallbackDispatcher,
    CallbackRunner,
    CallbacksKind,
    Delivery,
    DfmDataCallback,
    DfmDataCallbackAsync,
    DfmDataCallbackSync,
    call_callbacks,
    call_callbacks_async,
    callbacks_kind,
    check_callback_signature,
)
from ._discovery import (
    TargetEntry,
    TargetLoadError,
    TargetNotFoundError,
    clear_target_cache,
    default_target_name,
    find_target,
    installed_targets,
    load_target,
)
from ._dispatchers import (
    AsyncioDispatcher,
    DirectDispatcher,
    ManualCallbackRunner,
    ManualDispatcher,
    ThreadDispatcher,
)
from ._job import FramedParams, InputFramer, InputParams, Job, UnknownJob, normalize_input_params
from ._logging import configure_session_logging
from ._results import JobResults, ResultCollector
from ._session import Session
from ._status import FailureStatus, JobStatus
from ._stream import JobStream
from ._stream_job import StreamJob
from ._stream_state import TRANSITIONS as STREAM_TRANSITIONS
from ._stream_state import StreamState
from ._target import TARGET_API_VERSION, ExecuteRequest, SessionInfo, Target
from ._unpack import ApplicationUnpack, homesite_policy

__all__ = [
    "ApplicationUnpack",
    "STREAM_TRANSITIONS",
    "TARGET_API_VERSION",
    "AsyncioDispatcher",
    "CallbackDispatcher",
    "CallbackRunner",
    "CallbacksKind",
    "Delivery",
    "DfmDataCallback",
    "DfmDataCallbackAsync",
    "DfmDataCallbackSync",
    "DirectDispatcher",
    "ExecuteRequest",
    "FailureStatus",
    "FramedParams",
    "InputFramer",
    "InputParams",
    "Job",
    "JobResults",
    "JobStatus",
    "JobStream",
    "ManualCallbackRunner",
    "ManualDispatcher",
    "ResultCollector",
    "Session",
    "SessionInfo",
    "StreamJob",
    "StreamState",
    "Target",
    "TargetEntry",
    "TargetLoadError",
    "TargetNotFoundError",
    "ThreadDispatcher",
    "UnknownJob",
    "call_callbacks",
    "call_callbacks_async",
    "callbacks_kind",
    "check_callback_signature",
    "clear_target_cache",
    "default_target_name",
    "configure_session_logging",
    "find_target",
    "installed_targets",
    "load_target",
    "normalize_input_params",
    "homesite_policy",
]
