"""JobStatus: where a job is in its life."""

from __future__ import annotations

from collections.abc import Container
from enum import Enum
from typing import NamedTuple

from dfm.api import STATUS_PLACE_NAME, ErrorInfo, ErrorToken, Frame

from ._callbacks import Delivery


class JobStatus(Enum):
    """The status of a job.

    ``FINISHED``, ``ABORTED`` and ``FAILED`` are final. ``UNKNOWN`` is the status of a
    job handle for an id the target does not know (see ``Session.reattach``).
    """

    SUBMITTED = 0
    RUNNING = 1
    FINISHED = 2
    ABORTED = 3
    UNKNOWN = 4
    FAILED = 5

    def is_final(self) -> bool:
        """Whether the job can no longer change (FINISHED, ABORTED or FAILED)."""
        return self in _FINAL


_FINAL = frozenset({JobStatus.FINISHED, JobStatus.ABORTED, JobStatus.FAILED})


class FailureStatus(NamedTuple):
    """How a job that fails outside its pipeline (a site failed, a timeout) ends its status.

    Each submitted frame that has not got its status token, and the stop frame, then
    get an ErrorToken on ``_dfm_status_`` carrying the reason (see ``JobStream.fail``),
    so that every job still ends with a final status token.

    Attributes:
        error_type: The ``ErrorInfo.type``, e.g. ``"SiteFailure"`` or ``"JobTimeout"``.
        site: The site that failed (or still ran when the job timed out), if known.
        from_site: The site the status tokens come from (the pipeline's status site).
        frames: The number of parameter sets submitted: frames ``[0]`` … ``[frames-1]``.
    """

    error_type: str
    site: str | None
    from_site: str
    frames: int

    def tokens(self, reason: str, has_status: Container[int], has_final: bool) -> list[Delivery]:
        """ErrorTokens for the frames not in ``has_status``, then (unless ``has_final``) stop."""
        error = ErrorToken(errors=[ErrorInfo(type=self.error_type, message=reason, site=self.site)])
        tokens = [
            Delivery(self.from_site, None, Frame.start_frame(i), STATUS_PLACE_NAME, error)
            for i in range(self.frames)
            if i not in has_status
        ]
        if not has_final:
            tokens.append(
                Delivery(self.from_site, None, Frame.stop_frame(), STATUS_PLACE_NAME, error)
            )
        return tokens
