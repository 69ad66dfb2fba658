"""ClientRoster: which clients of the service job serve DFM, and the pings that tell."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ClientRoster:
    """The clients of the NVFLARE job: ready (announced), dead (lost), and their pings.

    Args:
        on_dead: Called once with ``(client, reason)`` when a client counts as dead.
        logger: Where to log.
        ping_timeout: Seconds a client may take to answer a ping.
        misses: Missed pings in a row after which a client counts as dead.
    """

    def __init__(
        self,
        on_dead: Callable[[str, str], None],
        logger: logging.Logger,
        ping_timeout: float = 2.0,
        misses: int = 2,
    ) -> None:
        """No clients until the job's are known (``clients = ...``)."""
        self.clients: list[str] = []
        self.ready: dict[str, float] = {}
        self.dead: dict[str, str] = {}
        self._missed: dict[str, int] = {}
        self._on_dead = on_dead
        self._log = logger
        self.ping_timeout = ping_timeout
        self.misses = misses

    def all_ready(self) -> bool:
        """Whether every client announced itself."""
        return all(c in self.ready for c in self.clients)

    def serving(self) -> list[str]:
        """The clients that announced themselves and are not dead, sorted."""
        return sorted(c for c in self.ready if c not in self.dead)

    def why_unusable(self, site: str) -> str | None:
        """Why a client cannot take a job now (None: it can, or it is no client)."""
        if site in self.dead:
            return f"site {site!r} is not available: {self.dead[site]}"
        if site in self.clients and site not in self.ready:
            return f"site {site!r} has not joined the DFM service yet"
        return None

    def announced(self, peer: str) -> None:
        """A client's executor serves (again)."""
        if peer in self.clients:
            self._log.info("DFM: site %s is ready", peer)
            self.ready[peer] = time.time()
            self.dead.pop(peer, None)
            self._missed[peer] = 0

    def mark_dead(self, client: str, reason: str) -> None:
        """The client is lost (``on_dead`` is called the first time)."""
        if client in self.dead:
            return
        self.dead[client] = reason
        self._on_dead(client, reason)

    def ping(self, ask: Callable[[list[str], float], set[str]]) -> None:
        """Ping the serving clients; one missing ``misses`` answers in a row is dead.

        ``ask(clients, timeout)`` pings them and gives those that answered
        (:func:`._cellnet.ping`).
        """
        alive = [c for c in self.clients if c in self.ready and c not in self.dead]
        if not alive:
            return
        answered = ask(alive, self.ping_timeout)
        for client in alive:
            if client in answered:
                self._missed[client] = 0
                continue
            self._missed[client] = self._missed.get(client, 0) + 1
            if self._missed[client] >= self.misses:
                self.mark_dead(
                    client,
                    f"site {client!r} stopped responding (no answer to "
                    f"{self._missed[client]} liveness pings)",
                )
