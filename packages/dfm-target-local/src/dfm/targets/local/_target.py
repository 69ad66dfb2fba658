"""LocalTarget: a whole federation inside the application's process."""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dfm.runtime import (
    JobCancelledError,
    SiteHost,
    SiteThread,
    TokenPackage,
    current_trace_context,
    encode_params,
)
from dfm.session import (
    ApplicationUnpack,
    CallbackRunner,
    ExecuteRequest,
    InputFramer,
    Job,
    JobStream,
    SessionInfo,
    Target,
    UnknownJob,
    homesite_policy,
)

from ._job import LocalJob, LocalJobRecord
from ._router import LocalRouter
from ._watchdog import Watchdog

if TYPE_CHECKING:
    pass

_JOB_OPTIONS = ("job_timeout",)
_CLOSE_TIMEOUT = 2.0


def _check_type(name: str, value: Any, kind: type) -> None:
    # bool is an int to Python; "false" is truthy: options must have exactly their type.
    if type(value) is not kind:
        raise TypeError(
            f"Local target option {name} must be of type {kind.__name__}, "
            f"not {type(value).__name__} {value!r}"
        )


class LocalTarget(Target):
    """Runs every site of the federation in this process (target name ``local``).

    Each site is a daemon thread with its own event loop and a pool of daemon threads
    for sync adapters; all jobs share them. Values between sites and to the
    application are serialized as on a distributed target (``encode_value``: tagged
    JSON, pickle only within this trust domain). Jobs start in well under a
    millisecond; any number run at once.

    Args:
        session_info: The session's federation, homesite and logger.
        job_timeout: Seconds after which a running job is cancelled and FAILED (None:
            no limit); per job: ``execute(..., options={"job_timeout": s})``.
        sync_workers: Threads per site for sync adapters.
        wire_roundtrip: Also turn every package into its wire bytes and back, exactly
            as a distributed target does. Payloads are always serialized (tagged JSON,
            as on the wire); the envelope round trip only costs time (~40 µs a token),
            so it is off by default and the tests run both ways.
        buffer_limit: Tokens kept per job while no handle receives them.
        start_timeout: Seconds a job's sites may take to load its code.
        max_finished_jobs: Finished jobs kept for ``reattach`` (oldest forgotten).
        processes: Run each site in its own Python process instead of a thread:
            adapters of different sites run in parallel and a crashing site takes
            only its jobs down. Packages cross serialized (scalar tokens as their fields,
            the others as wire bytes); site processes are
            started on first use and exit with this process (no ``__main__`` guard
            is needed: the application's main module is not re-imported).
        memory_limit_mb: With ``processes=True``, the most resident memory (MiB) a site
            process may use: one that goes over is ended, and only its jobs fail, with
            the cap named in the reason (a leaking adapter cannot exhaust the machine).
            Linux only (read from ``/proc``); None: no cap.
    """

    name = "local"
    default_priority = 100  # runs with no set-up: the default wherever it is installed

    def __init__(
        self,
        session_info: SessionInfo,
        *,
        job_timeout: float | None = None,
        sync_workers: int = 64,
        wire_roundtrip: bool = False,
        buffer_limit: int = 10_000,
        start_timeout: float = 60.0,
        max_finished_jobs: int = 1000,
        processes: bool = False,
        memory_limit_mb: int | None = None,
    ) -> None:
        """Check the options; nothing starts before the first job."""
        super().__init__(session_info)
        _check_type("processes", processes, bool)
        self._memory_limit = _check_memory_limit(memory_limit_mb, processes)
        _check_type("wire_roundtrip", wire_roundtrip, bool)
        for name, value, least in [
            ("sync_workers", sync_workers, 1),
            ("buffer_limit", buffer_limit, 0),
            ("max_finished_jobs", max_finished_jobs, 0),
        ]:
            _check_type(name, value, int)
            if value < least:
                raise ValueError(
                    f"Local target option {name} must be at least {least}, not {value}"
                )
        self._processes = processes
        self._job_timeout = _check_timeout(job_timeout, "job_timeout")
        checked_start = _check_timeout(start_timeout, "start_timeout")
        if checked_start is None:
            raise ValueError("Local target option start_timeout must be a number of seconds")
        self._sync_workers = sync_workers
        self._buffer_limit = buffer_limit
        self._start_timeout = checked_start
        self._max_finished = max_finished_jobs
        self._hosts: dict[str, SiteHost] = {}
        self._router = LocalRouter(self._hosts, self, wire_roundtrip, self.logger)
        self._unpack: ApplicationUnpack | None = None  # needs the homesite's package: first execute
        self._running: dict[str, LocalJobRecord] = {}
        self._finished: OrderedDict[str, LocalJobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._connected = False
        self._watchdog = Watchdog("dfm-local-watchdog", self.logger)
        self._federation = session_info.federation_name

    # -- lifecycle -------------------------------------------------------------------
    def connect(self) -> None:
        """Get ready (sites start with the first job that uses them)."""
        with self._lock:
            if not self._connected:
                self._connected = True
                self._watchdog = Watchdog("dfm-local-watchdog", self.logger)

    def close(self) -> None:
        """Abort running jobs, stop every site (bounded) and forget all jobs."""
        with self._lock:
            self._connected = False
            running = list(self._running.values())
            hosts = list(self._hosts.values())
            self._hosts.clear()
            self._running.clear()
            self._finished.clear()
        for record in running:
            record.abort()
        self._watchdog.close()
        if self._processes:  # in parallel: a site process may flush its telemetry as it stops
            closers = [
                threading.Thread(target=host.close, args=(_CLOSE_TIMEOUT,), daemon=True)
                for host in hosts
            ]
            for closer in closers:
                closer.start()
            for closer in closers:
                closer.join(_CLOSE_TIMEOUT + 1.0)
            return
        deadline = time.monotonic() + _CLOSE_TIMEOUT
        for host in hosts:
            host.close(max(0.05, deadline - time.monotonic()))

    def _host(self, site: str) -> SiteHost:
        with self._lock:
            host = self._hosts.get(site)
            if host is None or not host.alive:
                log = self.logger.getChild(site)
                if self._processes:
                    # Imported here: process mode pulls in multiprocessing and sockets,
                    # which the default thread mode never needs.
                    from ._process import SiteProcess

                    host = SiteProcess(
                        site,
                        self,
                        self._forward,
                        log,
                        self._sync_workers,
                        self._federation,
                        self._memory_limit,
                    )
                else:
                    host = SiteThread(
                        site, self._router, self, log, self._sync_workers, None, self._federation
                    )
                self._hosts[site] = host
            return host

    def _forward(self, site: str, packages: list[bytes]) -> None:
        from ._process import SiteProcess

        host = self._hosts.get(site)
        if not isinstance(host, SiteProcess):
            self.logger.error("No site %r to forward %d package(s) to", site, len(packages))
            return
        host.deliver_many(packages)

    # -- jobs ------------------------------------------------------------------------
    def _new_job_id(self) -> str:
        while True:
            job_id = uuid.uuid4().hex[:8]
            if job_id not in self._running and job_id not in self._finished:
                return job_id

    def _timeout_for(self, options: Any) -> float | None:
        if options is None:
            return self._job_timeout
        if not isinstance(options, Mapping):
            raise TypeError(f"local target options must be a dict, not {type(options).__name__}")
        unknown = sorted(set(options) - set(_JOB_OPTIONS))
        if unknown:
            raise TypeError(
                f"Unknown local job option(s) {', '.join(unknown)}; accepted: "
                f"{', '.join(_JOB_OPTIONS)}"
            )
        return _check_timeout(options.get("job_timeout", self._job_timeout), "job_timeout")

    def execute(self, request: ExecuteRequest) -> Job:
        """Start the job on every participating site and return it.

        Raises:
            ValueError: A parameter cannot be serialized, or a site cannot start the job
                (e.g. an API version mismatch); the job is then FAILED.
            RuntimeError: The target is closed.
        """
        if not self._connected:
            raise RuntimeError("The local target is not connected; call session.connect()")
        prepared, params = request.prepared, request.params
        timeout = self._timeout_for(request.options)
        netirs = prepared.net_irs()
        if not netirs:
            raise ValueError("The prepared pipeline has no participating site")
        encoded = encode_params(params)
        unpack = self._application_unpack()
        with self._lock:
            job_id = self._new_job_id()
        stream = JobStream(
            job_id,
            decode_policy=unpack.policy,
            buffer_limit=self._buffer_limit,
            logger=self.logger,
            unpack=unpack,
        )
        hosts = {site: self._host(site) for site in netirs}
        framer = InputFramer(prepared, request.next_frame, request.stopped)
        record = LocalJobRecord(job_id, prepared, stream, framer, hosts, self.logger)
        with self._lock:
            self._running[job_id] = record
        stream.add_final_callback(self._job_final)
        job = LocalJob(record, request.runner)
        # Input is queued right behind each site's creation of the job, so the sites
        # start working while we wait to hear whether every site could start.
        trace_context = current_trace_context()  # the job's span, parent of each site's run
        futures = {
            site: host.create(job_id, netirs[site], request.force_modgen, trace_context)
            for site, host in hosts.items()
        }
        stream.set_running()
        record.inject(encoded)
        self._check_started(record, futures)
        if timeout is not None:
            ref = weakref.ref(record)  # a forgotten job is not kept alive by its deadline

            def time_out() -> None:
                alive = ref()
                if alive is not None:
                    alive.time_out(timeout)

            self._watchdog.schedule(timeout, time_out)
        if request.debug:
            self.logger.info("Job %s started on %s", job_id, ", ".join(sorted(netirs)))
        return job

    def _application_unpack(self) -> ApplicationUnpack:
        if self._unpack is None:
            homesite = self.session_info.homesite
            policy = homesite_policy(self._federation, homesite, self.logger)
            read = None
            if self._processes:
                from ._channel import unpack

                read = unpack
            self._unpack = ApplicationUnpack(homesite, policy, read)
        return self._unpack

    def _check_started(
        self, record: LocalJobRecord, futures: dict[str, concurrent.futures.Future[None]]
    ) -> None:
        done, pending = concurrent.futures.wait(futures.values(), timeout=self._start_timeout)
        problems = []
        for site, future in sorted(futures.items()):
            if future in pending:
                future.cancel()
                problems.append(f"site {site!r} did not start it within {self._start_timeout:g}s")
            elif isinstance(future.exception(), JobCancelledError):
                # The job ended for another reason while this site was getting ready (a
                # site failed, say): that reason is the job's, in job.errors.
                continue
            elif future.exception() is not None:
                problems.append(f"site {site!r}: {future.exception()}")
        if problems:
            reason = "cannot start: " + "; ".join(problems)
            record.fail_to_start(reason)
            cause = next(
                (f.exception() for f in futures.values() if f in done and f.exception()), None
            )
            raise ValueError(f"Job {record.job_id} {reason}") from cause

    def _job_final(self, stream: JobStream) -> None:
        with self._lock:
            record = self._running.pop(stream.job_id, None)
            if record is None:
                return
            self._finished[stream.job_id] = record
            while len(self._finished) > self._max_finished:
                self._finished.popitem(last=False)

    def reattach(self, job_id: str, runner: CallbackRunner | None) -> Job:
        """A new handle on a job of this target (running, or finished until close)."""
        with self._lock:
            record = self._running.get(job_id) or self._finished.get(job_id)
        if record is None:
            return UnknownJob(job_id)
        return LocalJob(record, runner)

    # -- HostEvents --------------------------------------------------------------------
    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        """A site's runner of the job ended."""
        record = self._running.get(job_id)
        if record is not None:
            record.site_done(site, error)

    def yield_package(self, job_id: str, item: TokenPackage | bytes) -> None:
        """A token for the application: into the job's stream."""
        record = self._running.get(job_id)
        if record is not None:
            record.stream.put(item)

    def site_died(self, site: str, reason: str) -> None:
        """Fail every running job that still needs the site."""
        with self._lock:
            if self._hosts.get(site) is not None and not self._hosts[site].alive:
                del self._hosts[site]
            affected = [r for r in self._running.values() if site in r.running_sites]
        for record in affected:
            record.fail(f"site {site!r} stopped: {reason}", "SiteFailure", site)


def _check_memory_limit(value: Any, processes: bool) -> int | None:
    if value is None:
        return None
    _check_type("memory_limit_mb", value, int)
    if value < 1:
        raise ValueError(f"Local target option memory_limit_mb must be at least 1, not {value}")
    if not processes:
        raise ValueError(
            "Local target option memory_limit_mb needs processes=True: a site in a thread "
            "shares the application's memory and cannot be ended on its own"
        )
    from ._memcap import memory_cap_supported

    if not memory_cap_supported():
        raise ValueError("Local target option memory_limit_mb needs Linux (/proc)")
    return int(value)


def _check_timeout(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, not {value!r}")
    return float(value)
