"""JobLauncher: starts, feeds, cancels and reattaches this application's FLARE jobs."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from dfm.runtime import current_trace_context
from dfm.session import (
    ApplicationUnpack,
    CallbackRunner,
    InputFramer,
    Job,
    JobStatus,
    JobStream,
    UnknownJob,
    homesite_policy,
)

from ._options import job_mode

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline

    from ._admin import AdminLink
    from ._appnode import AppNode
    from ._job import FlareJobRecord
    from ._jobbook import JobBook
    from ._servicekeeper import ServiceKeeper
    from ._workspace import FederationState, Workspace

REATTACH_TRIES = 3


class JobLauncher:
    """The jobs of one connection: started in the service (or their own NVFLARE job).

    Args:
        state: The federation's workspace record.
        workspace: The DFM FLARE workspace.
        admin: The admin session.
        node: The application's node.
        keeper: The service job.
        book: The application's jobs.
        control: Runs remote cancels off the caller's thread.
        logger: Where to log.
        default_mode: ``service`` or ``per-job``, unless a job's options say.
        start_timeout: Seconds a job's sites may take to start it.
        service_timeout: Seconds to wait for a service job to get ready.
        buffer_limit: Tokens kept per job while no handle receives them.
    """

    def __init__(
        self,
        state: FederationState,
        workspace: Workspace,
        admin: AdminLink,
        node: AppNode,
        keeper: ServiceKeeper,
        book: JobBook,
        control: ThreadPoolExecutor,
        logger: logging.Logger,
        *,
        default_mode: str,
        start_timeout: float,
        service_timeout: float,
        buffer_limit: int,
    ) -> None:
        """Ready to start jobs."""
        self._state = state
        self._workspace = workspace
        self._admin = admin
        self._node = node
        self._keeper = keeper
        self._book = book
        self._control = control
        self._log = logger
        self._default_mode = default_mode
        self._start_timeout = start_timeout
        self._service_timeout = service_timeout
        self._buffer_limit = buffer_limit
        self._unpack: ApplicationUnpack | None = None
        self._closed = False

    def close(self) -> None:
        """The connection is closing: jobs ending now tell the service nothing more."""
        self._closed = True

    def execute(
        self,
        prepared: PreparedPipeline,
        params: Any,
        next_frame: int,
        runner: CallbackRunner,
        options: Any,
        force_modgen: bool,
        debug: bool,
    ) -> Job:
        """Start a job on every participating site and return its handle.

        Raises:
            ValueError: A parameter cannot be serialized, a site is not part of the
                federation or cannot start the job (the job is then FAILED).
        """
        from ._host import encode_params, params_to_wire
        from ._job import FlareJobRecord
        from ._servicejob import start_per_job
        from ._wire import pack

        mode = job_mode(options, self._default_mode)
        state, node, admin = self._state, self._node, self._admin
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
            service = self._keeper.ensure(set(remote) - ({state.server_site} - {None}))
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
            self._log,
        )
        self._book.add(record)
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
            "trace_context": dict(trace_context or {}),  # plain headers on the wire
            # a handle in another process can send input only when the homesite is not
            # in the job (its part runs in this process)
            "prepared": prepared.model_dump_json() if homesite not in netirs else None,
            "entries": base64.b64encode(pack(entries)).decode("ascii"),
        }
        try:
            if mode == "service":
                self._start_in_service(record, request, set(remote))
            else:
                start_per_job(
                    admin,
                    state,
                    self._workspace.jobs_dir,
                    record,
                    json.dumps(request),
                    self._service_timeout + self._start_timeout,
                    lambda flare_job: node.route_job(job_id, flare_job, homesite),
                )
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
            self._log.info(
                "Job %s started on %s (%s)", job_id, ", ".join(sorted(netirs)), record.flare_job
            )
        return self._handle(record, runner)

    def _new_stream(self, job_id: str) -> JobStream:
        """A job's stream, decoding what the sites send under the homesite's policy."""
        if self._unpack is None:
            state = self._state
            policy = homesite_policy(state.federation, state.homesite, self._log)
            self._unpack = ApplicationUnpack(state.homesite, policy)
        return JobStream(
            job_id,
            decode_policy=self._unpack.policy,
            buffer_limit=self._buffer_limit,
            logger=self._log,
            unpack=self._unpack,
        )

    def _create_homesite(
        self,
        record: FlareJobRecord,
        netir: Any,
        force: bool,
        trace_context: Mapping[str, str] | None,
    ) -> None:
        node = self._node
        try:
            future = node.start_job(record.job_id, record.homesite, netir, force, trace_context)
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

        admin = self._admin
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
                self._keeper.forget()
            if (lost or reply.get("retiring") or reply.get("gone")) and attempt == 0:
                service = self._keeper.ensure(remote, lost=lost)
                record.flare_job = service.job_id
                self._node.route_job(record.job_id, service.job_id, record.homesite)
                # the same entries again, numbered afresh for the new service
                entries = unpack(base64.b64decode(request["entries"]))
                request["entries"] = base64.b64encode(pack(entries)).decode("ascii")
                continue
            problems = "; ".join(f"site {s!r}: {m}" for s, m in sorted(errors.items()))
            raise ValueError(
                f"Job {record.job_id} cannot start: {problems or reply.get('error', reply)}"
            )

    def _inject(self, record: FlareJobRecord, encoded: Any) -> None:
        from ._host import params_to_wire
        from ._wire import APP, INJECT

        node = self._node
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
        if self._closed:
            return
        self._node.cancel(record.job_id)
        admin = self._admin
        if not record.flare_job:
            return

        def cancel() -> None:
            try:
                admin.command(record.flare_job, "dfm.cancel", {"job": record.job_id})
            except Exception as e:
                self._log.debug("Cancelling job %s remotely: %s", record.job_id, e)

        try:
            self._control.submit(cancel)
        except RuntimeError:
            pass

    def _job_final(self, stream: JobStream) -> None:
        from ._job import errors_text
        from ._node import SERVICE
        from ._wire import APP, FINAL

        record = self._book.finish(stream.job_id)
        if record is None:
            return
        self._log.debug("Job %s is %s: %s", stream.job_id, stream.status.name, stream.errors)
        if record.flare_job and not self._closed:
            node = self._node
            data = [stream.status.name, errors_text(stream.errors)]
            node.emit(FINAL, record.job_id, SERVICE, data, source=APP)

    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        """A handle on a job of this federation (from this process or another one)."""
        record = self._book.get(job_id)
        for attempt in range(REATTACH_TRIES):
            if record is not None:
                break
            if attempt:
                time.sleep(0.5)  # a busy service may miss one hello
            record = self._attach_remote(job_id)
        if record is None:
            return UnknownJob(job_id)
        return self._handle(record, runner)

    def _handle(self, record: FlareJobRecord, runner: CallbackRunner | None) -> Job:
        """A handle on the job; what is pushed for it is acknowledged from now on."""
        from ._job import FlareJob

        job = FlareJob(record, runner)
        self._book.acknowledge(record.job_id)
        return job

    def _attach_remote(self, job_id: str) -> FlareJobRecord | None:
        from ._job import FlareJobRecord
        from ._protocol import ONESHOT_JOB_PREFIX
        from ._resume import resume_input
        from ._servicejob import hello, live_services

        admin, node, state = self._admin, self._node, self._state
        candidates = [s.job_id for s in live_services(admin, state.federation)]
        self._log.debug("Looking for job %s in %s", job_id, candidates)
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
                self._log,
            )
            self._book.add(record, expected=-1)  # the first entry pushed sets where we are
            node.route_job(job_id, flare_job, state.homesite)
            reply = admin.command(
                flare_job, "dfm.attach", {"job": job_id, "subscriber": admin.fqcn or ""}
            )
            if not reply.get("found"):
                self._book.discard(job_id)
                continue
            summary = reply["job"]
            record.sites = list(summary["sites"])
            record.running_sites = set(summary["running_sites"])
            record.reattached = True
            resume_input(record, reply, node.sequencer, self._log)
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
            self._book.resume(job_id)  # what was pushed since the attach, now the record is set
            return record
        return None
