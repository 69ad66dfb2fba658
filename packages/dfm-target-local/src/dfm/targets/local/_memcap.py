"""The memory cap of a site process (``memory_limit_mb``): watched from the parent.

The parent reads the child's resident set size from ``/proc`` every few tens of
milliseconds and kills the child when it goes over the cap. Watching from outside
works whatever the child does (a leaking adapter may hold the GIL in one long C call);
a site process then fails only its own jobs, with the cap in the reason.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_INTERVAL = 0.02


def memory_cap_supported() -> bool:
    """Whether this system lets the parent read a child's memory use (Linux ``/proc``)."""
    return sys.platform.startswith("linux") and Path("/proc/self/statm").is_file()


def resident_mb(pid: int) -> float | None:
    """The resident set size of process ``pid`` in MiB, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * _PAGE / 2**20


class MemoryCap:
    """Ends a process that uses more than ``limit_mb`` MiB of resident memory.

    Args:
        pid: The process to watch.
        limit_mb: The cap.
        on_exceeded: Called once, with the reason, before the process is killed.
        kill: Kills the process.
    """

    def __init__(
        self,
        pid: int,
        limit_mb: int,
        on_exceeded: Callable[[str], None],
        kill: Callable[[], None],
    ) -> None:
        """Start watching on a daemon thread."""
        self._pid, self._limit = pid, limit_mb
        self._on_exceeded, self._kill = on_exceeded, kill
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"dfm-memcap-{pid}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(_INTERVAL):
            used = resident_mb(self._pid)
            if used is None:
                return
            if used > self._limit:
                self._on_exceeded(
                    f"its memory use ({used:.0f} MB) went over the site's memory cap of "
                    f"{self._limit} MB (local target option memory_limit_mb); its process "
                    "was ended"
                )
                self._kill()
                return

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
