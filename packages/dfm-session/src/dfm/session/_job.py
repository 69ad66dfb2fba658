"""Job: the handle of one pipeline execution, and the numbering of its parameter sets."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from dfm.api import START_PLACE_NAME, ErrorToken, FlowInfo, Frame

from ._callbacks import CallbackRunner
from ._status import JobStatus

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline

    from ._results import JobResults

InputParams: TypeAlias = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
"""Parameter sets as the user gives them: one dict, a list of dicts, or None."""
FramedParams: TypeAlias = list[tuple[Frame, dict[str, Any]]]
"""Parameter sets with their frames; each set also holds the ``__start_place__`` signal."""

_FLOW = FlowInfo()  # immutable, so one instance serves every frame


def normalize_input_params(input_params: InputParams, first_index: int = 0) -> list[dict[str, Any]]:
    """One dict → a list of one copy; a list → copies of its dicts; None → empty.

    Args:
        input_params: The sets as the user gave them.
        first_index: The parameter set index (frame) of the first set, used in errors.

    Raises:
        ValueError: An element is not a dict.
    """
    raw: object = input_params
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [dict(raw)]
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise ValueError(
            f"input_params must be a dict, a list of dicts or None, not {type(raw).__name__}"
        )
    sets = []
    for index, values in enumerate(raw):
        if type(values) is dict:  # the common case, without the slower ABC check
            sets.append(values.copy())
            continue
        if not isinstance(values, Mapping):
            raise ValueError(
                f"Parameter set {first_index + index} must be a dict of place name to value, not "
                f"{type(values).__name__}"
            )
        sets.append(dict(values))
    return sets


class InputFramer:
    """Numbers the parameter sets of one job: frames ``[n]``, ``[n+1]``, …, then stop.

    Validation happens before a frame number is used, so a rejected set burns no
    frame; submission happens under the framer's lock, so the stop frame is always
    submitted after every parameter set. Errors name a set by its frame's index.

    Args:
        prepared: The job's pipeline; its ``check_input_params`` validates every set.
        next_index: The index of the next parameter set.
        stopped: Whether the stop frame was already sent.
    """

    def __init__(self, prepared: PreparedPipeline, next_index: int = 0, stopped: bool = False):
        """Start numbering at ``next_index``."""
        self._prepared = prepared
        self._next = next_index
        self._stopped = stopped
        self._closed = False
        self._lock = threading.Lock()

    @property
    def next_index(self) -> int:
        """The index the next parameter set will get."""
        return self._next

    @property
    def stopped(self) -> bool:
        """Whether the stop frame was sent."""
        return self._stopped

    def close(self) -> int:
        """Take no more input (the job failed); waits for a submission in progress.

        Returns:
            The number of parameter sets submitted: frames ``[0]`` … ``[n-1]``.
        """
        with self._lock:
            self._closed = True
            return self._next

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("The job has ended; it takes no more input")

    def frame(self, input_params: InputParams) -> FramedParams:
        """Validate and frame parameter sets from the next index, without using the numbers.

        Raises:
            ValueError: The stop frame was sent, or a set is not a dict or does not have
                exactly the pipeline's PlaceParams.
        """
        sets = normalize_input_params(input_params, self._next)
        if self._stopped:
            raise ValueError("Cannot send input params after the stop frame")
        framed: FramedParams = []
        for offset, values in enumerate(sets):
            values.setdefault(START_PLACE_NAME, _FLOW)
            framed.append((Frame.start_frame(self._next + offset), values))
        self._prepared.check_input_params(framed)
        return framed

    def send(
        self, input_params: InputParams, submit: Callable[[FramedParams], None]
    ) -> FramedParams:
        """Frame, validate and submit parameter sets; the numbers are used only on success.

        Raises:
            ValueError: As :meth:`frame`, or when ``submit`` rejects the values.
            RuntimeError: The framer was closed.
        """
        with self._lock:
            framed = self.frame(input_params)
            self._check_open()
            if framed:
                submit(framed)
                self._next += len(framed)
            return framed

    def send_stop(self, submit: Callable[[FramedParams], None]) -> None:
        """Submit the stop frame.

        Raises:
            ValueError: The stop frame was already sent.
            RuntimeError: The framer was closed.
        """
        with self._lock:
            if self._stopped:
                raise ValueError("The stop frame was already sent for this job")
            self._check_open()
            submit([(Frame.stop_frame(), {START_PLACE_NAME: _FLOW})])
            self._stopped = True


class Job(ABC):
    """One execution of a prepared pipeline; returned by ``Session.execute``/``reattach``.

    Args:
        job_id: The target's id of the job.
        was_found: False for a handle on an id the target does not know.
        callback_runner: The runner delivering this handle's callbacks, if any.
    """

    def __init__(
        self,
        job_id: str,
        *,
        was_found: bool = True,
        callback_runner: CallbackRunner | None = None,
    ) -> None:
        """Keep the id and the runner."""
        self._job_id = job_id
        self._was_found = was_found
        self._callback_runner = callback_runner

    @property
    def job_id(self) -> str:
        """The job's id (8 hex characters on the local target)."""
        return self._job_id

    @property
    def was_found(self) -> bool:
        """False only for a reattach handle on an unknown id."""
        return self._was_found

    @property
    def callback_runner(self) -> CallbackRunner | None:
        """This handle's callback runner (``process_pending`` lives here for ManualDispatcher)."""
        return self._callback_runner

    @property
    def callback_errors(self) -> list[BaseException]:
        """Exceptions raised by this handle's callbacks; they were logged, delivery went on."""
        runner = self._callback_runner
        return runner.errors if runner is not None else []

    def _callback_failures(self) -> list[str]:
        """This handle's callback errors as descriptions (they also go into ``errors``)."""
        runner = self._callback_runner
        return runner.failures if runner is not None else []

    def results(self, timeout: float | None = None) -> JobResults:
        """Wait for the job to end and return its yields: place → frame → value.

        Only for a job executed without callbacks (``execute(prepared, params)``): its
        results are kept for this. A value that failed is the ``ErrorToken`` that
        arrived in its place; ``get_status()`` and ``errors`` say how the job ended.
        A place of several ``multiuse=True`` Yields maps each frame to a list of values.

        Args:
            timeout: Seconds to wait at most; None waits without limit.

        Raises:
            TimeoutError: The job did not end within ``timeout`` (it keeps running).
            RuntimeError: This handle delivers to callbacks, or has none (a reattach
                without callbacks), so it keeps no results.
        """
        from ._results import ResultCollector

        runner = self._callback_runner
        if not isinstance(runner, ResultCollector):
            raise RuntimeError(
                f"Job {self.job_id!r} keeps no results: results() is for jobs executed "
                "without callbacks; this handle "
                + ("delivers to callbacks" if runner is not None else "has no callbacks")
            )
        if not self.wait_until_finished(timeout):
            raise TimeoutError(
                f"Job {self.job_id!r} did not end within {timeout}s (status "
                f"{self.get_status().name}); call results() again to wait longer, or cancel()"
            )
        return runner.results()

    @property
    @abstractmethod
    def errors(self) -> list[ErrorToken | str]:
        """Why the job FAILED: status ErrorTokens and/or reasons; empty otherwise."""

    @abstractmethod
    def get_status(self) -> JobStatus:
        """The job's current status."""

    @abstractmethod
    def wait_until_finished(self, timeout: float | None = None) -> bool:
        """Wait until the job is FINISHED, FAILED or ABORTED and its callbacks ran.

        Args:
            timeout: Seconds to wait at most; None waits without limit.

        Returns:
            True if the job reached a final status within the timeout (whichever it is;
            see :meth:`get_status`), False otherwise. It never raises on timeout.
        """

    @abstractmethod
    def send_input_params(
        self, input_params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """Send more parameter sets; they get the next frame numbers.

        Raises:
            ValueError: Validation failed exactly as in ``execute`` (no frame number is
                used), or the stop frame was already sent.
        """

    @abstractmethod
    def send_stop_frame(self) -> None:
        """Send the stop frame: the job finishes once every sent set is done.

        Raises:
            ValueError: The stop frame was already sent.
        """

    @abstractmethod
    def cancel(self) -> None:
        """Abort the job: it ends ABORTED and no more callbacks are made. Returns promptly."""

    @abstractmethod
    def detach(self) -> None:
        """Stop receiving callbacks on this handle; the job keeps running.

        Tokens are kept (bounded) until a handle reattaches with callbacks. Afterwards
        this handle's methods raise RuntimeError; use ``Session.reattach(job_id)``.
        """


class UnknownJob(Job):
    """The handle ``reattach`` returns for an id the target does not know."""

    def __init__(self, job_id: str) -> None:
        """A handle with status UNKNOWN."""
        super().__init__(job_id, was_found=False)

    @property
    def errors(self) -> list[ErrorToken | str]:
        """Always empty."""
        return []

    def get_status(self) -> JobStatus:
        """Always UNKNOWN."""
        return JobStatus.UNKNOWN

    def wait_until_finished(self, timeout: float | None = None) -> bool:
        """Returns True at once: there is nothing to wait for."""
        return True

    def _refuse(self) -> RuntimeError:
        return RuntimeError(f"Job {self.job_id!r} is unknown to this target; cannot send to it")

    def send_input_params(
        self, input_params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """Raises RuntimeError: the job is unknown."""
        raise self._refuse()

    def send_stop_frame(self) -> None:
        """Raises RuntimeError: the job is unknown."""
        raise self._refuse()

    def cancel(self) -> None:
        """Does nothing."""

    def detach(self) -> None:
        """Does nothing."""
