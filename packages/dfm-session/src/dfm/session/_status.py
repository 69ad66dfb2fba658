"""JobStatus: where a job is in its life."""

from __future__ import annotations

from enum import Enum


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
