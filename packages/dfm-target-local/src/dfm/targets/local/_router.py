"""The local router: packages to other sites' inboxes, yields to the job's stream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from dfm.runtime import HostEvents, Router, SiteHost, TokenPackage, to_wire_or_error


class LocalRouter(Router):
    """Routes packages between the sites of one local federation.

    With ``wire=True`` every package is turned into its wire bytes on the sending
    site and parsed on the receiving side, exactly as on a distributed target.

    Args:
        hosts: The target's site hosts by name (read at routing time).
        events: Receives yields.
        wire: Serialize packages to bytes and back.
        logger: Where to log undeliverable packages.
        pack: How a package leaves (e.g. for another process); default: the package
            itself, or its wire bytes with ``wire``.
    """

    def __init__(
        self,
        hosts: Mapping[str, SiteHost],
        events: HostEvents,
        wire: bool,
        logger: logging.Logger,
        pack: Callable[[TokenPackage], Any] | None = None,
    ) -> None:
        """Keep the hosts."""
        self._hosts = hosts
        self._events = events
        self._pack = pack if pack is not None else to_wire_or_error if wire else None
        self._log = logger

    def route(self, package: TokenPackage) -> None:
        """Deliver a package without blocking (called on the sending site's loop)."""
        item = package if self._pack is None else self._pack(package)
        if package.is_yield:
            self._events.yield_package(package.job_id, item)
            return
        host = self._hosts.get(package.target_site)
        if host is None:
            self._log.error(
                "Job %s: no site %r to deliver a token for place %r to; dropped",
                package.job_id,
                package.target_site,
                package.target_place,
            )
            return
        host.deliver(item)
