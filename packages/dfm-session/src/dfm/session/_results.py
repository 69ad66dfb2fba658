"""Results without callbacks: a runner that keeps every yield, by place and frame."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from typing import Any, TypeAlias

from dfm.api import STATUS_PLACE_NAME, Frame

from ._callbacks import CallbackRunner, Delivery

JobResults: TypeAlias = dict[str, dict[Frame, Any]]
"""What ``Job.results()`` returns: place → frame → value.

A place that ``multiuse=True`` Yields share maps each frame to the list of its values,
in arrival order.
"""


class ResultCollector(CallbackRunner):
    """The runner of a job executed without callbacks: it keeps the yields for ``results()``.

    Status tokens (``_dfm_status_``) are not kept: the job's status and errors say how
    each frame ended. Tokens are kept in memory until the job handle is dropped.

    Args:
        multiuse_places: Places that several Yields share; they collect lists.
    """

    def __init__(self, multiuse_places: Collection[str] = ()) -> None:
        """Collect into empty results."""
        super().__init__(None, None)
        self._multiuse = frozenset(multiuse_places)
        self._results: JobResults = {}
        self._lock = threading.Lock()

    def dispatch(self, tokens: Sequence[Delivery]) -> None:
        """Keep each yield."""
        with self._lock:
            for token in tokens:
                if token.place == STATUS_PLACE_NAME:
                    continue
                frames = self._results.setdefault(token.place, {})
                if token.place in self._multiuse:
                    frames.setdefault(token.frame, []).append(token.data)
                else:
                    frames[token.frame] = token.data

    def results(self) -> JobResults:
        """A copy of what was collected so far."""
        with self._lock:
            return {
                place: {
                    frame: list(value) if place in self._multiuse else value
                    for frame, value in frames.items()
                }
                for place, frames in self._results.items()
            }
