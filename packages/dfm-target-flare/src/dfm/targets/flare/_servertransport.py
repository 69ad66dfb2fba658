"""How the server's DFM service pushes entries to the application, and reads its acks.

A blocking call made on one of the pusher's threads, so several may be in flight at once.
"""

from __future__ import annotations

import json
from typing import Any

from ._cellnet import push
from ._wire import Entry


def push_to_app(cell: Any, fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
    """Push entries to an application cell; its acknowledged sequence number by job.

    None if the push failed (no reply, an error reply, or a reply that is not acks).
    """
    body = push(cell, fqcn, entries)
    if body is None:
        return None
    try:
        acks = json.loads(body)
        return {str(k): int(v) for k, v in acks.items()}
    except Exception:
        return None
