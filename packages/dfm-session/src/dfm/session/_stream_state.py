"""The life of a JobStream as one enum and its transitions, and the status it derives."""

from __future__ import annotations

from enum import Enum

from dfm.api import STATUS_PLACE_NAME, ErrorToken, StopToken

from ._callbacks import Delivery
from ._status import JobStatus

_MAX_STATUS_ERRORS = 100


class StreamState(Enum):
    """Where a :class:`~dfm.session.JobStream` is in its life.

    ``OPEN`` takes tokens. :meth:`~dfm.session.JobStream.end` moves it to ``ENDING``,
    :meth:`~dfm.session.JobStream.fail` to ``FAILING`` (both deliver what is queued,
    then become ``DRAINED``), :meth:`~dfm.session.JobStream.terminate` to
    ``TERMINATING`` (callbacks stop at once; ``TERMINATED`` once the delivery thread
    let go). ``DRAINED`` and ``TERMINATED`` are final. See :data:`TRANSITIONS`.
    """

    OPEN = "open"
    """Tokens are accepted and delivered."""
    ENDING = "ending"
    """No token can come any more; the queued ones are delivered, then the status is set."""
    FAILING = "failing"
    """FAILED already (a site failed, a timeout); the queued tokens and error statuses go out."""
    TERMINATING = "terminating"
    """Ended at once (cancelled): no callback starts; the delivery thread is letting go."""
    DRAINED = "drained"
    """Final: every token was handed to the runner and the status is final."""
    TERMINATED = "terminated"
    """Final: ended by terminate; tokens not delivered were dropped."""

    @property
    def accepts_tokens(self) -> bool:
        """Only an OPEN stream takes tokens."""
        return self is StreamState.OPEN

    @property
    def is_final(self) -> bool:
        """DRAINED or TERMINATED: nothing changes any more."""
        return self in (StreamState.DRAINED, StreamState.TERMINATED)

    @property
    def is_terminal(self) -> bool:
        """TERMINATING or TERMINATED: callbacks are stopped."""
        return self in (StreamState.TERMINATING, StreamState.TERMINATED)


TRANSITIONS: dict[StreamState, frozenset[StreamState]] = {
    StreamState.OPEN: frozenset({StreamState.ENDING, StreamState.FAILING, StreamState.TERMINATING}),
    StreamState.ENDING: frozenset({StreamState.DRAINED, StreamState.TERMINATING}),
    StreamState.FAILING: frozenset({StreamState.DRAINED, StreamState.TERMINATING}),
    StreamState.TERMINATING: frozenset({StreamState.TERMINATED}),
    StreamState.DRAINED: frozenset(),
    StreamState.TERMINATED: frozenset(),
}
"""Every move a JobStream can make; any other is a bug and raises RuntimeError."""


class StatusTokens:
    """What the ``_dfm_status_`` tokens of a job said so far, and the status that follows.

    Used on the delivery thread only.
    """

    def __init__(self) -> None:
        """No status token seen yet."""
        self.frames_with_status: set[int] = set()  # parameter set indexes
        self.failed_frames: set[int] = set()  # ... those whose status is an ErrorToken
        self.errors: list[ErrorToken] = []
        self.saw_final_stop = False

    def track(self, token: Delivery) -> None:
        """Note a token if it is a status token."""
        if token.place != STATUS_PLACE_NAME:
            return
        data = token.data
        if not token.frame.is_stop_frame():
            index = token.frame.input_paramset_index()
            self.frames_with_status.add(index)
            if isinstance(data, ErrorToken):
                self.failed_frames.add(index)
        if isinstance(data, ErrorToken):
            if len(self.errors) < _MAX_STATUS_ERRORS:
                self.errors.append(data)
        elif isinstance(data, StopToken) and token.frame.is_stop_frame():
            self.saw_final_stop = True

    def broken(self, error: ErrorToken) -> None:
        """A token could not even be unpacked: the job fails with this error."""
        self.errors.append(error)

    def outcome(self, failure: str | None) -> tuple[JobStatus, list[ErrorToken | str]]:
        """The final status of a stream that drained, and why it failed."""
        if failure:
            return JobStatus.FAILED, [failure]
        if self.errors:
            return JobStatus.FAILED, list(self.errors)
        if not self.saw_final_stop:
            return JobStatus.FAILED, ["the job ended without its final status token"]
        return JobStatus.FINISHED, []
