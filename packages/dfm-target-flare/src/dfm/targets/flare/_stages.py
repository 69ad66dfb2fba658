"""Stage stamps of entries on their way (``DFM_FLARE_STAGES=DIR``; off by default).

For finding where a hop spends its time: each process appends
``wall_time stage kind job source target seq`` lines to ``DIR/<pid>.stages``; the
processes share the machine's clock, so the lines of all parties merge into one timeline
(sort them by time). Off, a stamp costs one global lookup.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable

from ._wire import Entry

_DIR = os.environ.get("DFM_FLARE_STAGES", "")
ENABLED = bool(_DIR)
_lock = threading.Lock()
_file = None


def stamp(stage: str, entries: Iterable[Entry]) -> None:
    """Note that ``entries`` reached ``stage`` now (when enabled)."""
    global _file
    now = time.time()
    lines = "".join(
        f"{now:.6f} {stage} {e.kind} {e.job} {e.source} {e.target} {e.seq}\n" for e in entries
    )
    with _lock:
        if _file is None:
            os.makedirs(_DIR, exist_ok=True)
            _file = open(os.path.join(_DIR, f"{os.getpid()}.stages"), "a", buffering=1)  # noqa: SIM115
        _file.write(lines)
