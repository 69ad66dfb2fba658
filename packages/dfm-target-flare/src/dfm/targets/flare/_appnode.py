"""AppNode: the application's party — the homesite's site host and the link to the server."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any

from ._admin import AdminLink, NotRunningError
from ._node import SERVICE, JobInfo, SiteNode
from ._protocol import Topic
from ._sender import Batch
from ._wire import APP, DONE, Entry, pack

SERVER_PREFIX = "server:"


class AppNode(SiteNode):
    """The application's node: hosts the homesite; everything else goes to the server.

    Entries go to ``server:<NVFLARE job id>`` of the job (the service, or its own
    per-job NVFLARE job) through ``dfm.send`` app commands, one in flight at a time,
    batched. Yields of the homesite go straight to the job's stream.

    Args:
        homesite: The homesite.
        admin: The admin session.
        local: Handles entries for the application (yields of the homesite).
        site_done: Called with ``(job, site, error)`` when the homesite's part ends.
        logger: Where to log.
        federation: The federation (the homesite refuses another one's NetIR).
    """

    def __init__(
        self,
        homesite: str,
        admin: AdminLink,
        local: Callable[[Entry], None],
        site_done: Callable[[str, str, str | None], None],
        logger: logging.Logger,
        federation: str | None = None,
    ) -> None:
        """No job yet."""
        super().__init__(
            APP, homesite, None, self._send_to_server, logger, local=local, federation=federation
        )
        self._admin = admin
        self._site_done = site_done
        self._routes: dict[str, str] = {}
        self._route_lock = threading.Lock()

    link_window = 1
    """The admin session runs one command at a time: more in flight would only queue."""

    def route_job(self, job: str, flare_job: str, homesite: str) -> None:
        """Send the job's entries to ``flare_job``."""
        with self._route_lock:
            self._routes[job] = flare_job
        self.jobs.setdefault(job, JobInfo(homesite))

    def destination(self, target: str, job: str) -> str:
        """The application itself for yields and the homesite, else the job's server."""
        if target in (APP, self.site):
            return self.me
        with self._route_lock:
            flare_job = self._routes.get(job, "")
        return SERVER_PREFIX + flare_job

    def _send_to_server(self, destination: str, batch: Batch) -> bool:
        flare_job = destination.removeprefix(SERVER_PREFIX)
        if not flare_job:
            return True  # a job without a server (never started): nothing to deliver
        entries = batch.entries
        data = {
            "entries": base64.b64encode(pack(entries)).decode("ascii"),
            "link": batch.link,
            "number": batch.number,
        }
        try:
            reply = self._admin.command(flare_job, Topic.SEND, data)
        except NotRunningError as e:
            self._log.debug("dfm.send of %d entries to %s: %s", len(entries), flare_job, e)
            return False
        return bool(reply.get("ok"))

    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        """The homesite's part ended: the job's record here, and the service."""
        self._end_job(job_id)
        self._site_done(job_id, site, error)
        self.emit(DONE, job_id, SERVICE, error)

    def started_entries(self, job: str, encoded: Any, sites: list[str]) -> list[Entry]:
        """Numbered ``inject`` entries of the first parameter sets, by remote site."""
        from ._wire import INJECT

        return [self.sequencer.entry(INJECT, job, APP, site, encoded[site]) for site in sites]
