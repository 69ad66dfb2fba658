"""FlareTarget: DFM pipelines on an NVIDIA FLARE 2.9 federation (target name ``flare``)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfm.runtime import current_trace_context
from dfm.session import (
    CallbackRunner,
    ExecuteRequest,
    InputFramer,
    Job,
    JobStatus,
    JobStream,
    SessionInfo,
    Target,
    UnknownJob,
)

from ._workspace import FederationState, Workspace, WorkspaceError

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline

    from ._admin import AdminLink
    from ._appnode import AppNode
    from ._delivery import ApplicationUnpack
    from ._job import FlareJobRecord
    from ._servicejob import ServiceInfo
    from ._wire import Entry

MODES = ("service", "per-job")
REATTACH_TRIES = 3
SERVICE_RECHECK = 2.0
"""Seconds a service's hello is trusted before a job asks it again."""
_JOB_OPTIONS = ("mode",)


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
        self._service: ServiceInfo | None = None
        self._service_checked = 0.0
        self._records: dict[str, FlareJobRecord] = {}
        self._finished: OrderedDict[str, FlareJobRecord] = OrderedDict()
        self._expected: dict[str, int] = {}
        self._lock = threading.RLock()
        self._service_lock = threading.Lock()
        self._connected = False
        self._closing = threading.Event()
        self._control = ThreadPoolExecutor(1, thread_name_prefix="dfm-flare-control")
        self._watchdog: threading.Thread | None = None
        self._unpack: ApplicationUnpack | None = None

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
            self._node = AppNode(
                state.homesite,
                admin,
                self._homesite_entry,
                self._site_done,
                self.logger,
                federation=state.federation,
            )
            admin.on_push(self._on_push)
            self._closing.clear()
            try:
                if self._mode == "service":
                    self._ensure_service(set(state.clients))
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
            running = list(self._records.values())
        self._closing.set()
        for record in running:
            record.abort()
        self._control.submit(lambda: None).result(10.0)  # the cancels went out
        self._teardown()

    def _teardown(self) -> None:
        node, admin = self._node, self._admin
        self._node, self._admin, self._service = None, None, None
        with self._lock:
            self._records.clear()
            self._finished.clear()
            self._expected.clear()
        if node is not None:
            node.flush(2.0)  # final statuses and cancels reach the service
            node.close()
        if admin is not None:
            admin.close()

    # -- the service --------------------------------------------------------------------
    def _ensure_service(self, required: set[str], lost: set[str] | None = None) -> ServiceInfo:
        """The live service serving ``required``; replaces one that lost a needed site."""
        from ._servicejob import ensure_service, hello

        state, admin = self.state, self._require_admin()
        with self._service_lock:
            current = self._service
            fresh = time.monotonic() - self._service_checked < SERVICE_RECHECK
            if current is not None and fresh and not lost and not current.hello.get("retiring"):
                if required <= current.ready and not (required & set(current.dead)):
                    return current  # checked a moment ago (a job failing tells us sooner)
            if current is not None:
                info = hello(admin, current.job_id)
                usable = info is not None and not info.hello.get("retiring")
                if usable and info and required <= info.ready and not (required & set(info.dead)):
                    self._service, self._service_checked = info, time.monotonic()
                    return info
            exclude: set[str] = set()
            if current is not None:
                info = hello(admin, current.job_id)
                if info is not None and (
                    required & set(info.dead) or lost or info.hello.get("retiring")
                ):
                    self._wait_sites(set(state.clients) & (set(info.dead) | (lost or set())))
                    # Retire it: it ends once its running jobs have; new jobs go to a new one.
                    try:
                        admin.command(current.job_id, "dfm.shutdown", {"when_idle": True})
                    except Exception:
                        self.logger.debug("Retiring %s failed", current.job_id, exc_info=True)
                    exclude.add(current.job_id)
            info = ensure_service(
                admin,
                state.federation,
                list(state.clients),
                state.server_site,
                self._workspace.jobs_dir,
                self.logger,
                timeout=self._service_timeout,
                exclude=exclude,
            )
            if info.dead and required & set(info.dead):
                self._wait_sites(required & set(info.dead))
                admin.command(info.job_id, "dfm.shutdown", {"when_idle": True})
                info = ensure_service(
                    admin,
                    state.federation,
                    list(state.clients),
                    state.server_site,
                    self._workspace.jobs_dir,
                    self.logger,
                    timeout=self._service_timeout,
                    exclude=exclude | {info.job_id},
                )
            self._service, self._service_checked = info, time.monotonic()
            return info

    def _wait_sites(self, sites: set[str]) -> None:
        """Wait until lost sites are connected to the server again."""
        if not sites:
            return
        admin = self._require_admin()
        deadline = time.monotonic() + self._site_timeout
        while True:
            try:
                connected = set(admin.clients())
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

    def _require_admin(self) -> AdminLink:
        admin = self._admin
        if admin is None:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        return admin

    def _require_node(self) -> AppNode:
        node = self._node
        if node is None:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        return node

    # -- jobs --------------------------------------------------------------------------
    def execute(self, request: ExecuteRequest) -> Job:
        """Start the job on every participating site and return it (see :class:`Target`).

        Raises:
            ValueError: A parameter cannot be serialized, a site is not part of the
                federation or cannot start the job (the job is then FAILED).
            RuntimeError: The target is not connected.
        """
        return self._execute(
            request.prepared,
            request.params,
            request.next_frame,
            request.runner,
            request.options,
            request.force_modgen,
            request.debug,
        )

    def _job_mode(self, options: Any) -> str:
        if options is None:
            return self._mode
        if not isinstance(options, Mapping):
            raise TypeError(f"flare target options must be a dict, not {type(options).__name__}")
        unknown = sorted(set(options) - set(_JOB_OPTIONS))
        if unknown:
            raise TypeError(
                f"Unknown flare job option(s) {', '.join(unknown)}; accepted: "
                f"{', '.join(_JOB_OPTIONS)}"
            )
        mode = options.get("mode", self._mode)
        if mode not in MODES:
            raise ValueError(f"flare job option mode must be one of {MODES}, not {mode!r}")
        return str(mode)

    def _execute(
        self,
        prepared: PreparedPipeline,
        params: Any,
        next_frame: int,
        runner: CallbackRunner,
        options: Any,
        force_modgen: bool,
        debug: bool,
    ) -> Job:
        from ._host import encode_params, params_to_wire
        from ._job import FlareJob, FlareJobRecord
        from ._servicejob import submit_oneshot
        from ._wire import pack

        if not self._connected:
            raise RuntimeError("The FLARE target is not connected; call session.connect()")
        mode = self._job_mode(options)
        state, node, admin = self.state, self._require_node(), self._require_admin()
        netirs = prepared.net_irs()
        if not netirs:
            raise ValueError("The prepared pipeline has no participating site")
        homesite = state.homesite
        known = set(state.sites) | {homesite}
        unknown = sorted(set(netirs) - known)
        if unknown:
            raise ValueError(
                f"site(s) {', '.join(map(repr, unknown))} of the pipeline are not part of the "
                f"FLARE federation in {self._workspace.root} (sites: {', '.join(sorted(known))}); "
                "add them to the federation config and run `dfm poc prepare` (or `dfm "
                "provision`) again"
            )
        encoded = encode_params(params)
        stopped = bool(params) and params[-1][0].is_stop_frame()
        remote = sorted(s for s in netirs if s != homesite)
        job_id = uuid.uuid4().hex[:8]
        stream = self._new_stream(job_id)
        framer = InputFramer(prepared, next_frame, stopped)
        if mode == "service":
            service = self._ensure_service(set(remote) - ({state.server_site} - {None}))
            flare_job = service.job_id
        else:
            flare_job = ""
        record = FlareJobRecord(
            job_id,
            flare_job,
            prepared,
            stream,
            framer,
            list(netirs),
            homesite,
            self._inject,
            self._cancel_remote,
            self.logger,
        )
        with self._lock:
            self._records[job_id] = record
            self._expected[job_id] = 0
        stream.add_final_callback(self._job_final)
        node.route_job(job_id, flare_job, homesite)
        trace_context = current_trace_context()  # the job's span: parent of each site's run
        if homesite in netirs:
            self._create_homesite(record, netirs[homesite], force_modgen, trace_context)
        picked = {s: params_to_wire(netirs[s].pick_input_params(encoded)) for s in remote}
        entries = node.started_entries(job_id, picked, remote)
        request = {
            "job": job_id,
            "homesite": homesite,
            "pipeline": prepared.pipeline_name or "",
            "sites": sorted(netirs),
            "netirs": {s: netirs[s].model_dump_json() for s in remote},
            "force_modgen": force_modgen,
            "subscriber": admin.fqcn or "",
            "trace_context": trace_context or {},
            # a handle in another process can send input only when the homesite is not
            # in the job (its part runs in this process)
            "prepared": prepared.model_dump_json() if homesite not in netirs else None,
            "entries": base64.b64encode(pack(entries)).decode("ascii"),
        }
        try:
            if mode == "service":
                self._start_in_service(record, request, set(remote))
            else:
                record.flare_job = submit_oneshot(
                    admin,
                    state.federation,
                    job_id,
                    list(state.clients),
                    state.server_site,
                    self._workspace.jobs_dir,
                    json.dumps(request),
                )
                node.route_job(job_id, record.flare_job, homesite)
                self._wait_started(record)
        except Exception as e:
            record.running_sites.clear()
            if stream.terminate(JobStatus.FAILED, str(e)):
                node.cancel(job_id)
            if mode == "per-job" and record.flare_job:
                admin.abort(record.flare_job)
            raise
        stream.set_running()
        if homesite in netirs:
            node.host().inject(job_id, netirs[homesite].pick_input_params(encoded))
        if debug:
            self.logger.info(
                "Job %s started on %s (%s)", job_id, ", ".join(sorted(netirs)), record.flare_job
            )
        return FlareJob(record, runner)

    def _new_stream(self, job_id: str) -> JobStream:
        """A job's stream, decoding what the sites send under the homesite's policy."""
        if self._unpack is None:
            from ._delivery import ApplicationUnpack, homesite_policy

            state = self.state
            policy = homesite_policy(state.federation, state.homesite, self.logger)
            self._unpack = ApplicationUnpack(state.homesite, policy)
        return JobStream(
            job_id,
            decode_policy=self._unpack.policy,
            buffer_limit=self._buffer_limit,
            logger=self.logger,
            unpack=self._unpack,
        )

    def _create_homesite(
        self,
        record: FlareJobRecord,
        netir: Any,
        force: bool,
        trace_context: Mapping[str, str] | None,
    ) -> None:
        node = self._require_node()
        try:
            future = node.host().create(record.job_id, netir, force, trace_context)
            future.result(self._start_timeout)
        except Exception as e:
            record.stream.terminate(JobStatus.FAILED, str(e))
            raise ValueError(
                f"Job {record.job_id} cannot start: site {record.homesite!r}: {e}"
            ) from e

    def _start_in_service(
        self, record: FlareJobRecord, request: dict[str, Any], remote: set[str]
    ) -> None:
        from ._admin import NotRunningError
        from ._wire import pack, unpack

        admin = self._require_admin()
        for attempt in range(2):
            try:
                reply = admin.command(record.flare_job, "dfm.start", request)
            except NotRunningError as e:
                if attempt:
                    raise ValueError(f"Job {record.job_id} cannot start: {e}") from e
                reply = {"ok": False, "gone": True}  # the service ended: get a new one
            if reply.get("ok"):
                return
            errors: dict[str, str] = reply.get("errors") or {}
            lost = {s for s, m in errors.items() if "not available" in m or "not joined" in m}
            if reply.get("gone"):
                with self._service_lock:
                    self._service, self._service_checked = None, 0.0
            if (lost or reply.get("retiring") or reply.get("gone")) and attempt == 0:
                service = self._ensure_service(remote, lost=lost)
                record.flare_job = service.job_id
                self._require_node().route_job(record.job_id, service.job_id, record.homesite)
                # the same entries again, numbered afresh for the new service
                entries = unpack(base64.b64decode(request["entries"]))
                request["entries"] = base64.b64encode(pack(entries)).decode("ascii")
                continue
            problems = "; ".join(f"site {s!r}: {m}" for s, m in sorted(errors.items()))
            raise ValueError(
                f"Job {record.job_id} cannot start: {problems or reply.get('error', reply)}"
            )

    def _wait_started(self, record: FlareJobRecord) -> None:
        timeout = self._service_timeout + self._start_timeout
        if not record.started.wait(timeout):
            raise ValueError(
                f"Job {record.job_id}: its NVFLARE job {record.flare_job} did not start "
                f"within {timeout:g}s"
            )
        if record.start_error:
            raise ValueError(f"Job {record.job_id} cannot start: {record.start_error}")

    def _inject(self, record: FlareJobRecord, encoded: Any) -> None:
        from ._host import params_to_wire
        from ._wire import APP, INJECT

        node = self._require_node()
        prepared = record.prepared
        if prepared is None:
            raise RuntimeError(f"Job {record.job_id} cannot take input in this process")
        entries = []
        for site, netir in prepared.net_irs().items():
            picked = netir.pick_input_params(encoded)
            if site == record.homesite:
                node.host().inject(record.job_id, picked)
            else:
                entries.append(
                    node.sequencer.entry(INJECT, record.job_id, APP, site, params_to_wire(picked))
                )
        node.send(entries)

    def _cancel_remote(self, record: FlareJobRecord) -> None:
        node = self._node
        if node is not None:
            node.cancel(record.job_id)
        admin = self._admin
        if admin is None or not record.flare_job:
            return

        def cancel() -> None:
            try:
                admin.command(record.flare_job, "dfm.cancel", {"job": record.job_id})
            except Exception as e:
                self.logger.debug("Cancelling job %s remotely: %s", record.job_id, e)

        try:
            self._control.submit(cancel)
        except RuntimeError:
            pass

    def _job_final(self, stream: JobStream) -> None:
        from ._job import errors_text
        from ._node import SERVICE
        from ._wire import APP, FINAL

        with self._lock:
            record = self._records.pop(stream.job_id, None)
            if record is None:
                return
            self._finished[stream.job_id] = record
            while len(self._finished) > self._max_finished:
                self._finished.popitem(last=False)
        self.logger.debug("Job %s is %s: %s", stream.job_id, stream.status.name, stream.errors)
        node = self._node
        if node is not None and record.flare_job:
            data = [stream.status.name, errors_text(stream.errors)]
            node.emit(FINAL, record.job_id, SERVICE, data, source=APP)

    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        """A handle on a job of this federation (from this process or another one)."""
        from ._job import FlareJob

        with self._lock:
            record = self._records.get(job_id) or self._finished.get(job_id)
        for attempt in range(REATTACH_TRIES):
            if record is not None:
                break
            if attempt:
                time.sleep(0.5)  # a busy service may miss one hello
            record = self._attach_remote(job_id)
        if record is None:
            return UnknownJob(job_id)
        return FlareJob(record, runner)

    def _attach_remote(self, job_id: str) -> FlareJobRecord | None:
        from ._job import FlareJobRecord
        from ._protocol import ONESHOT_JOB_PREFIX
        from ._resume import resume_input
        from ._servicejob import hello, live_services

        admin, node, state = self._require_admin(), self._require_node(), self.state
        candidates = [s.job_id for s in live_services(admin, state.federation)]
        self.logger.debug("Looking for job %s in %s", job_id, candidates)
        for job in admin.list_jobs(f"{ONESHOT_JOB_PREFIX}{state.federation}-{job_id}"):
            if str(job.get("status", "")).upper() == "RUNNING" and hello(admin, job["job_id"]):
                candidates.append(str(job["job_id"]))
        for flare_job in candidates:
            stream = self._new_stream(job_id)
            record = FlareJobRecord(
                job_id,
                flare_job,
                None,
                stream,
                None,
                [],
                state.homesite,
                self._inject,
                self._cancel_remote,
                self.logger,
            )
            with self._lock:
                self._records[job_id] = record
                self._expected[job_id] = -1  # the first entry pushed sets where we are
            node.route_job(job_id, flare_job, state.homesite)
            reply = admin.command(
                flare_job, "dfm.attach", {"job": job_id, "subscriber": admin.fqcn or ""}
            )
            if not reply.get("found"):
                with self._lock:
                    self._records.pop(job_id, None)
                continue
            summary = reply["job"]
            record.sites = list(summary["sites"])
            record.running_sites = set(summary["running_sites"])
            record.reattached = True
            resume_input(record, reply, node.sequencer, self.logger)
            stream.set_running()
            stream.add_final_callback(self._job_final)
            status = str(summary["status"])
            if status in ("FINISHED", "FAILED", "ABORTED") and not summary["pending"]:
                stream.terminate(JobStatus[status], "; ".join(summary["errors"]) or None)
            elif state.homesite in record.running_sites:
                record.fail(
                    f"the homesite's part of job {job_id} ran in the application process that "
                    "started it, which is gone",
                    state.homesite,
                )
            return record
        return None

    # -- what the service sends ----------------------------------------------------------
    def _on_push(self, batch: bytes) -> dict[str, int]:
        from ._wire import unpack

        acks: dict[str, int] = {}
        entries = unpack(batch)
        self.logger.debug("Pushed: %s", [(e.kind, e.job, e.seq) for e in entries])
        for entry in entries:
            acks[entry.job] = max(acks.get(entry.job, -1), entry.seq)
            self._inbound(entry)
        return acks

    def _inbound(self, entry: Entry) -> None:
        from ._wire import APP, DONE, END, FAIL, PKG, STARTED

        with self._lock:
            expected = self._expected.get(entry.job)
            record = self._records.get(entry.job)
            if expected is None or record is None:
                return
            if expected == -1:
                expected = entry.seq
            if entry.seq < expected:
                return  # delivered before (a push retried after a lost reply)
            if entry.seq > expected:
                self.logger.warning(
                    "Job %s: entries %d..%d are missing", entry.job, expected, entry.seq - 1
                )
            self._expected[entry.job] = entry.seq + 1
        kind = entry.kind
        if kind == PKG and entry.target == APP:
            record.stream.put(bytes(entry.data))
        elif kind == PKG:
            node = self._node
            if node is not None:
                node.host().deliver(bytes(entry.data))
        elif kind == DONE:
            record.site_done(entry.source, None if entry.data is None else str(entry.data))
        elif kind == FAIL:
            self._service_checked = 0.0  # a site failed: ask the service before the next job
            reason, site = (
                (entry.data + [None])[:2]
                if isinstance(entry.data, list)
                else (str(entry.data), None)
            )
            record.fail(str(reason), site)
        elif kind == STARTED:
            if entry.data:
                record.start_error = "; ".join(
                    f"site {s!r}: {m}" for s, m in sorted(dict(entry.data).items())
                )
            record.started.set()
        elif kind == END and not record.stream.ended and record.reattached:
            record.stream.end()

    def _homesite_entry(self, entry: Entry) -> None:
        """A yield of the homesite: straight into the job's stream."""
        with self._lock:
            record = self._records.get(entry.job)
        if record is not None and isinstance(entry.data, bytes):
            record.stream.put(entry.data)

    def _site_done(self, job: str, site: str, error: str | None) -> None:
        with self._lock:
            record = self._records.get(job)
        if record is not None:
            record.site_done(site, error)

    # -- watching ------------------------------------------------------------------------
    def _watch(self) -> None:
        from ._servicejob import hello

        while not self._closing.wait(1.0):
            admin = self._admin
            with self._lock:
                running = list(self._records.values())
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
                self._service_checked = 0.0
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
