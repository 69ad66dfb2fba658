"""How the server's DFM service talks to its clients and the application on core cells.

Sends are blocking calls made on the sender's own threads (a link's, the pusher's, the
starter's), so several may be in flight at once; see :mod:`._cellnet` for the messages.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from . import _stages
from ._cellnet import (
    Create,
    Received,
    job_cell,
    ping,
    push,
    send_batch,
    send_create,
    serve_batches,
)
from ._linkorder import LinkOrder, LinkOrderError
from ._roster import ClientRoster
from ._sender import Batch
from ._wire import Entry


class ServerCells:
    """The server job's end of DFM's core-cell messages.

    Args:
        cell: The server job's NVFLARE cell.
        job_id: The NVFLARE job (its clients' job cells are ``<client>.<job_id>``).
        roster: The job's clients (batches only from them; nothing sent to dead ones).
        logger: Where refused batches are logged.
    """

    def __init__(self, cell: Any, job_id: str, roster: ClientRoster, logger: logging.Logger):
        """Nothing is served until :meth:`take_batches`."""
        self._cell = cell
        self._job_id = job_id
        self._roster = roster
        self._log = logger

    def send_link(self, destination: str, batch: Batch) -> bool:
        """Send a batch to a client; True once it acknowledged (never to a dead one)."""
        if destination in self._roster.dead:
            return False
        return send_batch(self._cell, job_cell(destination, self._job_id), batch)

    def ping(self, clients: list[str], timeout: float) -> set[str]:
        """The clients that answered a liveness ping."""
        return ping(self._cell, {c: job_cell(c, self._job_id) for c in clients}, timeout)

    def create_on(self, site: str, create: Create) -> str | None:
        """Ask a client to create a job's runner; None once it did, else why not."""
        return send_create(self._cell, job_cell(site, self._job_id), create)

    def push(self, fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
        """Push entries to an application cell; its acknowledged sequence number by job.

        None if the push failed (no reply, an error reply, or a reply that is not acks).
        """
        body = push(self._cell, fqcn, entries)
        if body is None:
            return None
        try:
            acks = json.loads(body)
            return {str(k): int(v) for k, v in acks.items()}
        except Exception:
            return None

    def take_batches(self, order: LinkOrder) -> None:
        """Hand the clients' batches to ``order``: each client's own entries only."""
        serve_batches(self._cell, lambda batch: self._batch(batch, order))

    def _batch(self, batch: Received, order: LinkOrder) -> str | None:
        sender, entries = batch.sender, batch.entries
        if sender not in self._roster.clients:
            self._log.error("Dropped a batch from %r: not a client of this job", sender)
            return f"{sender!r} is not a client of this job"
        if _stages.ENABLED:
            _stages.stamp("recv", entries)
        forged = [e for e in entries if e.source != sender]
        if forged:  # a client speaks only for its own site
            self._log.error(
                "Dropped %d entries from %s claiming another source", len(forged), sender
            )
            entries = [e for e in entries if e.source == sender]
        try:
            order.receive(f"{sender}/{batch.link}", batch.number, entries)
        except LinkOrderError as e:
            self._log.error("Bad batch from %s: %s", sender, e)
            return str(e)
        return None
