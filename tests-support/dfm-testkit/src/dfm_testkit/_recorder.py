"""A callback that records what a job delivers."""

from __future__ import annotations

import threading
from typing import Any

Token = tuple[str, Any, Any, str, Any]
"""``(from_site, node_id, frame, place, data)``, as a DFM callback receives it."""


class Recorder:
    """A callback that records ``(site, node, frame, place, data)`` tuples, thread-safely."""

    def __init__(self) -> None:
        """Nothing recorded yet."""
        self.tokens: list[Token] = []
        self._lock = threading.Lock()

    def __call__(self, site: str, node: Any, frame: Any, place: str, data: Any) -> None:
        """Record one token."""
        with self._lock:
            self.tokens.append((site, node, frame, place, data))

    def at(self, place: str) -> list[tuple[Any, Any]]:
        """``(frame, data)`` of every token of ``place``, in arrival order."""
        with self._lock:
            return [(t[2], t[4]) for t in self.tokens if t[3] == place]

    def data(self) -> list[Any]:
        """The data of every token, in arrival order."""
        with self._lock:
            return [t[4] for t in self.tokens]
