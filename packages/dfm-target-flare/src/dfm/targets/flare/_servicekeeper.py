"""ServiceKeeper: the application's view of its federation's DFM service job."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._admin import AdminLink
    from ._servicejob import ServiceInfo
    from ._workspace import FederationState, Workspace

SERVICE_RECHECK = 2.0
"""Seconds a service's hello is trusted before a job asks it again."""


class ServiceKeeper:
    """Finds (or submits) the service job, rechecks it, replaces one that lost a site.

    Args:
        admin: The admin session.
        state: The federation's workspace record.
        workspace: The DFM FLARE workspace (where service jobs are exported).
        logger: Where to log.
        service_timeout: Seconds to wait for a service job to get ready.
        site_timeout: Seconds to wait for a site that was lost to come back.
    """

    def __init__(
        self,
        admin: AdminLink,
        state: FederationState,
        workspace: Workspace,
        logger: logging.Logger,
        service_timeout: float,
        site_timeout: float,
    ) -> None:
        """No service known yet (the first ``ensure`` finds or submits one)."""
        self._admin = admin
        self._state = state
        self._workspace = workspace
        self._log = logger
        self._service_timeout = service_timeout
        self._site_timeout = site_timeout
        self._service: ServiceInfo | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def recheck(self) -> None:
        """Ask the service again before the next job (a site failed, or it ended)."""
        self._checked = 0.0

    def forget(self) -> None:
        """The service is gone: the next ``ensure`` finds or submits another one."""
        with self._lock:
            self._service, self._checked = None, 0.0

    def ensure(self, required: set[str], lost: set[str] | None = None) -> ServiceInfo:
        """The live service serving ``required``; replaces one that lost a needed site."""
        from ._servicejob import ensure_service, hello

        state, admin = self._state, self._admin
        with self._lock:
            current = self._service
            fresh = time.monotonic() - self._checked < SERVICE_RECHECK
            if current is not None and fresh and not lost and not current.hello.get("retiring"):
                if required <= current.ready and not (required & set(current.dead)):
                    return current  # checked a moment ago (a job failing tells us sooner)
            if current is not None:
                info = hello(admin, current.job_id)
                usable = info is not None and not info.hello.get("retiring")
                if usable and info and required <= info.ready and not (required & set(info.dead)):
                    self._service, self._checked = info, time.monotonic()
                    return info
            exclude: set[str] = set()
            if current is not None:
                info = hello(admin, current.job_id)
                if info is not None and (
                    required & set(info.dead) or lost or info.hello.get("retiring")
                ):
                    self.wait_sites(set(state.clients) & (set(info.dead) | (lost or set())))
                    # Retire it: it ends once its running jobs have; new jobs go to a new one.
                    try:
                        admin.command(current.job_id, "dfm.shutdown", {"when_idle": True})
                    except Exception:
                        self._log.debug("Retiring %s failed", current.job_id, exc_info=True)
                    exclude.add(current.job_id)

            def service(excluded: set[str]) -> ServiceInfo:
                return ensure_service(
                    admin,
                    state.federation,
                    list(state.clients),
                    state.server_site,
                    self._workspace.jobs_dir,
                    self._log,
                    timeout=self._service_timeout,
                    exclude=excluded,
                )

            info = service(exclude)
            if info.dead and required & set(info.dead):
                self.wait_sites(required & set(info.dead))
                admin.command(info.job_id, "dfm.shutdown", {"when_idle": True})
                info = service(exclude | {info.job_id})
            self._service, self._checked = info, time.monotonic()
            return info

    def wait_sites(self, sites: set[str]) -> None:
        """Wait until lost sites are connected to the server again.

        Raises:
            ValueError: A site is still not connected after ``site_timeout`` seconds.
        """
        if not sites:
            return
        deadline = time.monotonic() + self._site_timeout
        while True:
            try:
                connected = set(self._admin.clients())
            except Exception:
                connected = set()
            missing = sites - connected
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ValueError(
                    f"site(s) {', '.join(map(repr, sorted(missing)))} are not connected to the "
                    f"FLARE server (waited {self._site_timeout:g}s); start them again (for a "
                    f"POC: `dfm poc status ... --workspace {self._workspace.root}`)"
                )
            time.sleep(0.5)
