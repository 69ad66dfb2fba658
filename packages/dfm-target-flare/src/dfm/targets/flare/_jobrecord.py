"""JobRecord: what the DFM service on the NVFLARE server knows of one DFM job."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ._wire import Entry


@dataclass
class JobRecord:
    """The service's view of one DFM job."""

    job: str
    homesite: str
    sites: list[str]
    pipeline: str
    created: float = field(default_factory=time.time)
    remaining: set[str] = field(default_factory=set)
    status: str = "RUNNING"
    errors: list[str] = field(default_factory=list)
    subscriber: str | None = None
    outbox: deque[Entry] = field(default_factory=deque)
    next_seq: int = 0
    acked: int = -1
    sent: int = -1
    ended: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    generation: int = 0  # bumped by attach: replies to pushes before it are ignored
    resync: bool = False  # attached: one push at a time until the application replied
    pushing: int = 0  # pushes of this generation in flight holding entries of the job
    replied: float = 0.0  # monotonic time of the last reply to a push of the job

    def note_input(self, data: Any) -> None:
        """Parameter sets the application sent (``inject`` data): where the input is.

        ``extra["next_frame"]`` is the index after the highest frame seen and
        ``extra["stopped"]`` whether the stop frame went out: a handle reattached from
        another process numbers its parameter sets from there.
        """
        from dfm.api import Frame

        if not isinstance(data, list):
            return
        for item in data:
            try:
                frame = Frame.from_json(item[0])
            except Exception:
                continue  # the site says what is wrong with it
            if frame.is_stop_frame():
                self.extra["stopped"] = True
            else:
                levels = frame.frame
                index = int(levels[0]) + 1 if isinstance(levels, tuple) else 0
                self.extra["next_frame"] = max(int(self.extra.get("next_frame", 0)), index)

    def summary(self) -> dict[str, Any]:
        """What ``dfm jobs`` shows."""
        return {
            "job": self.job,
            "pipeline": self.pipeline,
            "homesite": self.homesite,
            "sites": self.sites,
            "status": self.status,
            "errors": self.errors[:20],
            "created": self.created,
            "ended": self.ended,
            "running_sites": sorted(self.remaining),
            "pending": len(self.outbox),
        }
