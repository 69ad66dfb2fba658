"""FlareTarget: DFM pipelines on an NVIDIA FLARE 2.9 federation (target name ``flare``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfm.session import (
    CallbackRunner,
    ExecuteRequest,
    Job,
    SessionInfo,
    Target,
)

from ._jobbook import JobBook
from ._launch import JobLauncher
from ._options import MODES
from ._workspace import FederationState, Workspace, WorkspaceError

if TYPE_CHECKING:
    from ._admin import AdminLink
    from ._appnode import AppNode
    from ._servicekeeper import ServiceKeeper


class FlareTarget(Target):
    """Runs pipelines on an NVIDIA FLARE federation (target name ``flare``).

    The application is an NVFLARE admin client (the homesite's admin user); the sites
    are the NVFLARE server and clients; the homesite's own operations run in this
    process. ``connect()`` finds (or submits) the federation's DFM service job and waits
    until every client serves it.

    Args:
        session_info: The session's federation, homesite and logger.
        workspace: The DFM FLARE workspace (``dfm poc`` or ``dfm provision --output``);
            default ``$DFM_FLARE_WORKSPACE``, else ``./.dfm-flare``.
        admin_kit: The homesite admin's startup kit, if not the workspace's.
        mode: ``service`` (one long-running NVFLARE job serves every DFM job) or
            ``per-job`` (one NVFLARE job per DFM job); per job:
            ``execute(..., options={"mode": "per-job"})``.
        start_timeout: Seconds a job's sites may take to start it.
        service_timeout: Seconds to wait for the service job to get ready.
        site_timeout: Seconds to wait for a site that was lost to come back.
        buffer_limit: Tokens kept per job while no handle receives them.
        max_finished_jobs: Finished jobs kept for ``reattach`` in this process.
    """

    name = "flare"
    default_priority = 0

    def __init__(
        self,
        session_info: SessionInfo,
        *,
        workspace: str | None = None,
        admin_kit: str | None = None,
        mode: str = "service",
        start_timeout: float = 60.0,
        service_timeout: float = 90.0,
        site_timeout: float = 60.0,
        buffer_limit: int = 10_000,
        max_finished_jobs: int = 1000,
    ) -> None:
        """Check the options; nothing connects before ``connect()``."""
        super().__init__(session_info)
        if mode not in MODES:
            raise ValueError(f"FLARE target option mode must be one of {MODES}, not {mode!r}")
        self._workspace = Workspace.resolve(workspace)
        self._admin_kit = admin_kit
        self._mode = mode
        self._start_timeout = float(start_timeout)
        self._service_timeout = float(service_timeout)
        self._site_timeout = float(site_timeout)
        self._buffer_limit = buffer_limit
        self._max_finished = max_finished_jobs
        self._state: FederationState | None = None
        self._admin: AdminLink | None = None
        self._node: AppNode | None = None
        self._keeper: ServiceKeeper | None = None
        self._launcher: JobLauncher | None = None
        self._book = JobBook(self._deliver, self._recheck_service, self.logger, max_finished_jobs)
        self._lock = threading.RLock()
        self._connected = False
        self._closing = threading.Event()
        self._control = ThreadPoolExecutor(1, thread_name_prefix="dfm-flare-control")
        self._watchdog: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def state(self) -> FederationState:
        """The federation's workspace record (after ``connect``)."""
        if self._state is None:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        return self._state

    def _load_state(self) -> FederationState:
        info = self.session_info
        state = self._workspace.load()
        if state.federation != info.federation_name:
            raise WorkspaceError(
                f"The FLARE workspace {self._workspace.root} is for federation "
                f"{state.federation!r}, not {info.federation_name!r}; use the workspace of "
                f"`dfm poc start` for {info.federation_name}"
            )
        if state.homesite != info.homesite:
            raise WorkspaceError(
                f"The FLARE workspace {self._workspace.root} holds the admin kit of homesite "
                f"{state.homesite!r}, not {info.homesite!r}; run `dfm poc prepare CONFIG "
                f"--homesite {info.homesite}` (or use that homesite's kit: admin_kit=...)"
            )
        if self._admin_kit:
            state.admin_kit = str(Path(self._admin_kit).resolve())
        return state

    def connect(self) -> None:
        """Log in to the NVFLARE server and make sure the DFM service answers.

        Raises:
            WorkspaceError: No workspace, or one for another federation or homesite.
            RuntimeError: The federation is not running (the message says how to start it).
        """
        from ._admin import AdminLink, NotRunningError
        from ._appnode import AppNode
        from ._servicekeeper import ServiceKeeper

        with self._lock:
            if self._connected:
                return
            state = self._load_state()
            admin = AdminLink(state.admin, Path(state.admin_kit), self.logger)
            try:
                admin.open(timeout=10.0)
            except NotRunningError as e:
                raise RuntimeError(
                    f"The FLARE federation of workspace {self._workspace.root} is not running "
                    f"({e}); start it with `dfm poc start {state.config} --homesite "
                    f"{state.homesite} --workspace {self._workspace.root}`"
                ) from e
            self._state, self._admin = state, admin
            node = AppNode(
                state.homesite,
                admin,
                self._book.homesite_entry,
                self._book.site_done,
                self.logger,
                federation=state.federation,
            )
            self._node = node
            keeper = ServiceKeeper(
                admin,
                state,
                self._workspace,
                self.logger,
                self._service_timeout,
                self._site_timeout,
            )
            self._keeper = keeper
            self._launcher = JobLauncher(
                state,
                self._workspace,
                admin,
                node,
                keeper,
                self._book,
                self._control,
                self.logger,
                default_mode=self._mode,
                start_timeout=self._start_timeout,
                service_timeout=self._service_timeout,
                buffer_limit=self._buffer_limit,
            )
            admin.on_push(self._book.on_push)
            self._closing.clear()
            try:
                if self._mode == "service":
                    keeper.ensure(set(state.clients))
            except Exception:
                self._teardown()
                raise
            self._connected = True
            self._watchdog = threading.Thread(
                target=self._watch, name="dfm-flare-watchdog", daemon=True
            )
            self._watchdog.start()

    def close(self) -> None:
        """Abort this session's running jobs and log out (idempotent)."""
        with self._lock:
            if not self._connected:
                return
            self._connected = False
            running = self._book.running()
        self._closing.set()
        for record in running:
            record.abort()
        self._control.submit(lambda: None).result(10.0)  # the cancels went out
        self._teardown()

    def _teardown(self) -> None:
        node, admin, launcher = self._node, self._admin, self._launcher
        self._node, self._admin, self._keeper, self._launcher = None, None, None, None
        if launcher is not None:
            launcher.close()
        self._book.clear()
        if node is not None:
            node.flush(2.0)  # final statuses and cancels reach the service
            node.close()
        if admin is not None:
            admin.close()

    def _require_admin(self) -> AdminLink:
        admin = self._admin
        if admin is None:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        return admin

    def _deliver(self, package: bytes) -> None:
        """A package the service pushed for the homesite."""
        node = self._node
        if node is not None:
            node.host().deliver(package)

    def _recheck_service(self) -> None:
        keeper = self._keeper
        if keeper is not None:
            keeper.recheck()

    # -- jobs --------------------------------------------------------------------------
    def execute(self, request: ExecuteRequest) -> Job:
        """Start the job on every participating site and return it (see :class:`Target`).

        Raises:
            ValueError: A parameter cannot be serialized, a site is not part of the
                federation or cannot start the job (the job is then FAILED).
            RuntimeError: The target is not connected.
        """
        if not self._connected or self._launcher is None:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        return self._launcher.execute(
            request.prepared,
            request.params,
            request.next_frame,
            request.runner,
            request.options,
            request.force_modgen,
            request.debug,
        )

    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        """A handle on a job of this federation (from this process or another one)."""
        launcher = self._launcher
        if launcher is None:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        return launcher.reattach(job_id, runner)

    # -- watching ------------------------------------------------------------------------
    def _watch(self) -> None:
        from ._servicejob import hello

        while not self._closing.wait(1.0):
            admin = self._admin
            running = self._book.running()
            if admin is None or not running:
                continue
            for flare_job in sorted({r.flare_job for r in running if r.flare_job}):
                try:
                    alive = hello(admin, flare_job) is not None
                except Exception:
                    alive = False
                if alive:
                    continue
                try:
                    status = admin.status(flare_job)
                except Exception:
                    status = "unknown"
                if not status.startswith("FINISHED"):
                    continue  # submitted, starting or busy; a dead one shows as FINISHED
                self._recheck_service()
                for record in running:
                    if record.flare_job == flare_job:
                        record.fail(f"its NVFLARE job {flare_job} ended ({status})", None)

    # -- for `dfm jobs` -------------------------------------------------------------------
    def list_jobs(self) -> list[dict[str, Any]]:
        """The DFM jobs every live service of the federation knows, oldest first."""
        from ._servicejob import live_services

        admin, state = self._require_admin(), self.state
        jobs: list[dict[str, Any]] = []
        for service in live_services(admin, state.federation):
            reply = admin.command(service.job_id, "dfm.jobs", {})
            for job in reply.get("jobs", []):
                job["service"] = service.job_id
                jobs.append(job)
        return sorted(jobs, key=lambda j: j.get("created", 0))
