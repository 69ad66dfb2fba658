"""Finding, submitting and confirming the federation's DFM service job.

A RUNNING status proves nothing (after a server restart NVFLARE lists dead jobs as
RUNNING for good): a service counts only once it answers ``dfm.hello`` and every client
said it is ready. Submission is idempotent: the submit token is derived from the
number of service jobs the federation has had, so two applications connecting at once
submit one job.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._admin import ALLOW_LIST_HINT, AdminLink, NotRunningError
from ._jobdef import write_job
from ._protocol import ONESHOT_JOB_PREFIX, PROTOCOL_VERSION, SERVICE_JOB_PREFIX, Topic

if TYPE_CHECKING:
    from ._job import FlareJobRecord
    from ._workspace import FederationState


@dataclass
class ServiceInfo:
    """A DFM service job that answered."""

    job_id: str
    hello: dict[str, Any]

    @property
    def ready(self) -> set[str]:
        """The clients serving DFM."""
        return set(self.hello.get("ready", []))

    @property
    def dead(self) -> dict[str, str]:
        """Clients that stopped responding, with why."""
        return dict(self.hello.get("dead", {}))


def service_name(federation: str) -> str:
    """The NVFLARE job name of the federation's service."""
    return SERVICE_JOB_PREFIX + federation


def _job_id(job: dict[str, Any]) -> str:
    return str(job.get("job_id") or job.get("id") or "")


def hello(admin: AdminLink, job_id: str) -> ServiceInfo | None:
    """The service's hello, or None if it does not answer as a DFM service."""
    try:
        reply = admin.command(job_id, Topic.HELLO, {})
    except NotRunningError:
        return None
    if not reply.get("ok") or reply.get("protocol") != PROTOCOL_VERSION:
        return None
    return ServiceInfo(job_id, reply)


def live_services(admin: AdminLink, federation: str) -> list[ServiceInfo]:
    """Every service job of the federation that answers, newest first."""
    found = []
    for job in admin.list_jobs(service_name(federation)):
        if str(job.get("status", "")).upper() != "RUNNING":
            continue
        info = hello(admin, _job_id(job))
        if info is not None:
            found.append(info)
    return found


def ensure_service(
    admin: AdminLink,
    federation: str,
    clients: list[str],
    server_site: str | None,
    jobs_dir: Path,
    logger: logging.Logger,
    timeout: float = 60.0,
    progress: Callable[[str], None] | None = None,
    exclude: set[str] | None = None,
) -> ServiceInfo:
    """The federation's service, submitted if no live one serves every client.

    Args:
        admin: The open admin session.
        federation: The federation package.
        clients: The client sites the service must serve.
        server_site: The DFM site of the server, if any.
        jobs_dir: Where to write the job folder.
        logger: Where to log.
        timeout: Seconds to wait for a new service to answer with every client ready.
        progress: Called with progress lines.
        exclude: Service job ids not to use (e.g. one that lost a site).

    Raises:
        NotRunningError: The service did not become ready in time.
        FlareCommandError: NVFLARE refused the job or a command.
    """
    say = progress or (lambda line: logger.info("%s", line))
    skip = exclude or set()
    name = service_name(federation)
    history = admin.list_jobs(name)
    for info in live_services(admin, federation):
        if info.job_id in skip or info.hello.get("retiring"):
            continue
        if set(clients) <= info.ready:
            return info
        if not info.dead:  # still starting: wait for it below instead of submitting
            return _wait_ready(admin, info.job_id, clients, timeout, say)
    folder = write_job(
        jobs_dir / name,
        name,
        list(clients),
        {"federation": federation, "server_site": server_site or ""},
        server_site,
    )
    token = f"{name}-{len(history)}"
    job_id = admin.submit(folder, token)
    say(f"submitted the DFM service job {job_id}")
    return _wait_ready(admin, job_id, clients, timeout, say)


def _wait_ready(
    admin: AdminLink, job_id: str, clients: list[str], timeout: float, say: Callable[[str], None]
) -> ServiceInfo:
    deadline = time.monotonic() + timeout
    reported: set[str] = set()
    last: ServiceInfo | None = None
    while time.monotonic() < deadline:
        info = hello(admin, job_id)
        if info is not None:
            last = info
            for client in sorted(info.ready - reported):
                say(f"site {client} is serving DFM")
            reported |= info.ready
            if set(clients) <= info.ready:
                return info
            interval = 0.1
        else:
            status = admin.status(job_id)
            if status.startswith("FINISHED"):
                raise NotRunningError(_ended_message(job_id, status))
            interval = 0.3  # the server job is still starting: do not flood its log
        time.sleep(interval)
    missing = sorted(set(clients) - (last.ready if last else set()))
    raise NotRunningError(
        f"the DFM service job {job_id} did not get ready within {timeout:g}s "
        f"(not serving: {', '.join(missing) or 'the server job did not answer'})"
    )


def _ended_message(job_id: str, status: str) -> str:
    return (
        f"NVFLARE ended the DFM job {job_id} as {status} before it answered. If a site's log "
        f"says ComponentNotAuthorized: {ALLOW_LIST_HINT}. Also check that DFM and the "
        "federation package are installed on every site"
    )


def submit_oneshot(
    admin: AdminLink,
    federation: str,
    job: str,
    clients: list[str],
    server_site: str | None,
    jobs_dir: Path,
    request_json: str,
) -> str:
    """Submit a per-job-mode NVFLARE job running one DFM job; its NVFLARE id."""
    name = f"{ONESHOT_JOB_PREFIX}{federation}-{job}"
    folder = write_job(
        jobs_dir / name,
        name,
        list(clients),
        # base64: NVFLARE resolves "{name}" references inside configuration strings
        {
            "federation": federation,
            "server_site": server_site or "",
            "oneshot": base64.b64encode(request_json.encode("utf-8")).decode("ascii"),
        },
        server_site,
    )
    return admin.submit(folder, name)


def start_per_job(
    admin: AdminLink,
    state: FederationState,
    jobs_dir: Path,
    record: FlareJobRecord,
    request_json: str,
    timeout: float,
    route: Callable[[str], None],
) -> None:
    """Run a DFM job in an NVFLARE job of its own; returns once its sites started it.

    ``route`` is called with the NVFLARE job's id as soon as it is known (entries for
    the job go there).

    Raises:
        ValueError: The NVFLARE job did not start in ``timeout`` seconds, or a site
            cannot start the DFM job.
    """
    record.flare_job = submit_oneshot(
        admin,
        state.federation,
        record.job_id,
        list(state.clients),
        state.server_site,
        jobs_dir,
        request_json,
    )
    route(record.flare_job)
    if not record.started.wait(timeout):
        raise ValueError(
            f"Job {record.job_id}: its NVFLARE job {record.flare_job} did not start "
            f"within {timeout:g}s"
        )
    if record.start_error:
        raise ValueError(f"Job {record.job_id} cannot start: {record.start_error}")
