"""The local router: packages to other sites' inboxes, yields to the job's stream."""

from __future__ import annotations

import logging
from collections.abc import Mapping

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
    """

    def __init__(
        self,
        hosts: Mapping[str, SiteHost],
        events: HostEvents,
        wire: bool,
        logger: logging.Logger,
    ) -> None:
        """Keep the hosts."""
        self._hosts = hosts
        self._events = events
        self._wire = wire
        self._log = logger

    def route(self, package: TokenPackage) -> None:
        """Deliver a package without blocking (called on the sending site's loop)."""
        item: TokenPackage | bytes = to_wire_or_error(package) if self._wire else package
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
