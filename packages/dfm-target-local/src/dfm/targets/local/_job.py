"""One local job: its sites, its stream, and the job handle."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from dfm.runtime import EncodedParams, SiteHost, encode_params
from dfm.session import (
    CallbackRunner,
    FailureStatus,
    FramedParams,
    InputFramer,
    JobStatus,
    JobStream,
    StreamJob,
)

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline


def _all_consumed(external: Iterable[str], encoded: EncodedParams) -> bool:
    """Whether a site takes every set as it is: what ``pick_input_params`` would return.

    It consumes every name of each set, and each set has the names it needs (names
    starting with ``__`` are optional); a stop frame has no values.
    """
    names = set(external)
    needed = {name for name in names if not name.startswith("__")}
    for frame, values in encoded:
        keys = values.keys()
        if frame.is_stop_frame():
            if keys:
                return False
        elif not needed <= keys <= names:
            return False
    return True


class LocalJobRecord:
    """The target's state of one job: which sites still run it, and why it failed.

    A job that fails because of a site (its thread or process died, its runner failed)
    or a timeout still ends with status tokens: an ErrorToken for every frame without
    a status and for the stop frame (see ``JobStream.fail``).

    Args:
        job_id: The job.
        prepared: Its pipeline.
        stream: Its application side.
        framer: Its parameter numbering.
        hosts: The hosts of its participating sites.
        logger: The target's logger.
    """

    def __init__(
        self,
        job_id: str,
        prepared: PreparedPipeline,
        stream: JobStream,
        framer: InputFramer,
        hosts: Mapping[str, SiteHost],
        logger: logging.Logger,
    ) -> None:
        """Every participating site is running."""
        self.job_id = job_id
        self.prepared = prepared
        self.stream = stream
        self.framer = framer
        self.hosts = dict(hosts)
        self.running_sites = set(hosts)
        self._failure: str | None = None
        self._failed_site: str | None = None
        self._lock = threading.Lock()
        self._log = logger

    def inject(self, encoded: EncodedParams) -> None:
        """Send encoded parameter sets to each site (only the inputs it consumes)."""
        for site, netir in self.prepared.net_irs().items():
            picked = encoded if _all_consumed(netir.external, encoded) else None
            if picked is None:
                picked = netir.pick_input_params(encoded)
            self.hosts[site].inject(self.job_id, picked)

    def site_done(self, site: str, error: str | None) -> None:
        """A site's runner ended; the stream ends when the last one did."""
        with self._lock:
            if site not in self.running_sites:
                return
            self.running_sites.discard(site)
            first_failure = error is not None and self._failure is None
            if first_failure:
                self._failure, self._failed_site = error, site
            remaining = sorted(self.running_sites)
        if first_failure:
            self._log.error("Job %s: %s; cancelling its other sites", self.job_id, error)
            for other in remaining:
                self.hosts[other].cancel(self.job_id)
        if not remaining:
            if self._failure is None:
                self.stream.end()
            else:
                status = self._failure_status("SiteFailure", self._failed_site)
                self.stream.end(self._failure, status)

    def _failure_status(self, error_type: str, site: str | None) -> FailureStatus:
        """The status tokens of a failed job; no more input is taken from now on."""
        from_site = self.prepared.status_site or self.prepared.homesite
        return FailureStatus(error_type, site, from_site, self.framer.close())

    def cancel_sites(self) -> None:
        """Cancel the job on every site still running it."""
        with self._lock:
            sites = sorted(self.running_sites)
        for site in sites:
            self.hosts[site].cancel(self.job_id)

    def fail(self, reason: str, error_type: str = "SiteFailure", site: str | None = None) -> bool:
        """End the job FAILED now with ``reason`` and cancel its sites.

        The callbacks get what was already queued, then the ErrorToken statuses
        (``error_type``, ``reason``, ``site``) of the frames that have none yet.
        """
        if self.stream.ended:
            return False  # it ends on its own
        if not self.stream.fail(reason, self._failure_status(error_type, site)):
            return False
        self._log.error("Job %s failed: %s", self.job_id, reason)
        self.cancel_sites()
        return True

    def fail_to_start(self, reason: str) -> None:
        """End the job FAILED now, silently: ``execute`` raises with the reason."""
        if self.stream.terminate(JobStatus.FAILED, reason):
            self.cancel_sites()

    def abort(self) -> None:
        """End the job ABORTED now and cancel its sites (session close)."""
        if self.stream.terminate(JobStatus.ABORTED):
            self.cancel_sites()

    def time_out(self, seconds: float) -> None:
        """Fail the job if it still runs after its timeout."""
        if self.stream.status.is_final():
            return
        with self._lock:
            sites = sorted(self.running_sites)
        running = ", ".join(sites) or "none"
        reason = f"timed out after {seconds:g}s (site(s) still running: {running})"
        self.fail(reason, "JobTimeout", sites[0] if sites else None)


class LocalJob(StreamJob):
    """A handle on a job of the local target.

    Args:
        record: The job's state in the target.
        callback_runner: This handle's runner, if it receives tokens.
    """

    def __init__(self, record: LocalJobRecord, callback_runner: CallbackRunner | None) -> None:
        """Attach to the job's stream."""
        super().__init__(record.stream, record.framer, callback_runner)
        self._record = record

    @property
    def sites(self) -> list[str]:
        """The sites taking part in the job."""
        return sorted(self._record.hosts)

    def _submit(self, framed: FramedParams) -> None:
        self._record.inject(encode_params(framed))

    def _cancel(self) -> None:
        self._record.cancel_sites()
