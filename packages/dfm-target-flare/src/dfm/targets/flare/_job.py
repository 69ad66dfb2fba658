"""One DFM job on FLARE, seen from the application: its sites, its stream, its handle."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dfm.session import (
    CallbackRunner,
    FailureStatus,
    FramedParams,
    InputFramer,
    JobStatus,
    JobStream,
    StreamJob,
)

from ._host import EncodedParams, encode_params

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline


class FlareJobRecord:
    """The application's state of one job: which sites still run it, and why it failed.

    Args:
        job_id: The DFM job id.
        flare_job: The NVFLARE job serving it (the service, or its own per-job job).
        prepared: Its pipeline (None after a reattach from another process).
        stream: Its application side.
        framer: Its parameter numbering (None if this handle cannot send input).
        sites: Its participating sites.
        homesite: The homesite (runs in this process when it takes part).
        submit: Sends encoded parameter sets to the sites.
        cancel_remote: Cancels the job on the remote sites (must not block).
        logger: The target's logger.
    """

    def __init__(
        self,
        job_id: str,
        flare_job: str,
        prepared: PreparedPipeline | None,
        stream: JobStream,
        framer: InputFramer | None,
        sites: list[str],
        homesite: str,
        submit: Callable[[FlareJobRecord, EncodedParams], None],
        cancel_remote: Callable[[FlareJobRecord], None],
        logger: logging.Logger,
    ) -> None:
        """Every site is running."""
        self.job_id = job_id
        self.flare_job = flare_job
        self.prepared = prepared
        self.stream = stream
        self.framer = framer
        self.sites = sorted(sites)
        self.homesite = homesite
        self.running_sites = set(sites)
        self.reattached = False  # by another process than the one that started it
        self.started = threading.Event()
        self.start_error: str | None = None
        self._submit = submit
        self._cancel_remote = cancel_remote
        self._failure: str | None = None
        self._failed_site: str | None = None
        self._lock = threading.Lock()
        self._log = logger

    def inject(self, encoded: EncodedParams) -> None:
        """Send encoded parameter sets to the sites."""
        self._submit(self, encoded)

    def site_done(self, site: str, error: str | None) -> None:
        """A site's part ended; the stream ends when the last one did."""
        with self._lock:
            if site not in self.running_sites:
                return
            self.running_sites.discard(site)
            first_failure = error is not None and self._failure is None
            if first_failure:
                self._failure, self._failed_site = error, site
            remaining = bool(self.running_sites)
        if first_failure:
            self._log.error("Job %s: %s; cancelling its other sites", self.job_id, error)
            self._cancel_remote(self)
        if not remaining:
            if self._failure is None:
                self.stream.end()
            else:
                status = self._failure_status("SiteFailure", self._failed_site)
                self.stream.end(self._failure, status)

    def _failure_status(self, error_type: str, site: str | None) -> FailureStatus:
        prepared = self.prepared
        from_site = (prepared.status_site or prepared.homesite) if prepared else self.homesite
        frames = self.framer.close() if self.framer is not None else 0
        return FailureStatus(error_type, site, from_site, frames)

    def fail(self, reason: str, site: str | None, error_type: str = "SiteFailure") -> bool:
        """End the job FAILED now (a site died, the service ended) and cancel its sites."""
        if self.stream.ended:
            return False
        if not self.stream.fail(reason, self._failure_status(error_type, site)):
            return False
        self._log.error("Job %s failed: %s", self.job_id, reason)
        with self._lock:
            self.running_sites.clear()
        self._cancel_remote(self)
        return True

    def abort(self) -> None:
        """End the job ABORTED now and cancel its sites (session close)."""
        if self.stream.terminate(JobStatus.ABORTED):
            self._cancel_remote(self)


class FlareJob(StreamJob):
    """A handle on a DFM job running on an NVIDIA FLARE federation.

    Args:
        record: The job's state in the target.
        callback_runner: This handle's runner, if it receives tokens.
    """

    def __init__(self, record: FlareJobRecord, callback_runner: CallbackRunner | None) -> None:
        """Attach to the job's stream."""
        super().__init__(record.stream, record.framer, callback_runner)
        self._record = record

    @property
    def sites(self) -> list[str]:
        """The sites taking part in the job."""
        return list(self._record.sites)

    @property
    def flare_job_id(self) -> str:
        """The NVFLARE job that serves this DFM job (the service job in service mode)."""
        return self._record.flare_job

    def _submit(self, framed: FramedParams) -> None:
        self._record.inject(encode_params(framed))

    def _cancel(self) -> None:
        self._record._cancel_remote(self._record)


def status_name(status: JobStatus) -> str:
    """The name the service records for a DFM status."""
    return status.name


def errors_text(errors: list[Any]) -> list[str]:
    """Errors as strings (ErrorTokens summarised)."""
    out: list[str] = []
    for error in errors:
        infos = getattr(error, "errors", None)
        if infos:
            for i in infos:
                out.append(f"{i.type}: {i.message}" + (f" (site {i.site})" if i.site else ""))
        else:
            out.append(str(error))
    return out
