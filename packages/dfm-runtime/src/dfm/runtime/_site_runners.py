"""SiteRunners: the runners of one site's jobs, on the site's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from dfm.api import DecodePolicy

from ._job import JobController
from ._package import Router, TokenPackage
from ._params import EncodedParams, decode_params
from ._pool import DaemonThreadPool

if TYPE_CHECKING:
    from dfm.irgen import NetIR

    from ._runner import NetRunner

_REMEMBERED_CANCELS = 10_000


class JobCancelledError(RuntimeError):
    """A site was asked to start a job that had already been cancelled (or had failed).

    Not a reason of its own: the job ended for another reason first (a failing site, a
    timeout, a cancel), and that reason is the job's.
    """


class SiteRunners:
    """The runners of one site, by job: creation, input, delivery, cancel (on its loop).

    Every target hosts a site through one of these: :class:`SiteThread` runs it on a
    thread of its own; a target may run it on any loop (e.g. in a site process).

    Args:
        site: The site.
        router: Where the runners' outgoing packages go.
        pool: Where sync adapters run.
        logger: The site's logger.
        on_done: Called on the loop with ``(job_id, error)`` when a runner ends.
        decode_policy: What the site accepts in parameters, packages and literals; None:
            the site's own policy, from its runtime package (restrictive by default).
        federation: The federation the site belongs to; a NetIR for another one is
            refused (None: not checked).
    """

    def __init__(
        self,
        site: str,
        router: Router,
        pool: DaemonThreadPool,
        logger: logging.Logger,
        on_done: Callable[[str, str | None], None],
        decode_policy: DecodePolicy | None = None,
        federation: str | None = None,
    ) -> None:
        """Start with no jobs."""
        self.site = site
        self.runners: dict[str, NetRunner] = {}
        self._router = router
        self._pool = pool
        self._log = logger
        self._on_done = on_done
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._policy = decode_policy
        self._federation = federation

    def create(
        self,
        job_id: str,
        netir: NetIR,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """Check the NetIR, build and start the job's runner (raises on failure).

        ``trace_context``: the job's W3C trace context, the parent of the site's run span.

        Raises:
            JobCancelledError: The job was cancelled before.
            dfm.runtime.codegen.NetIRRefused: The NetIR breaks a rule of this site (a
                bad name, another site's or federation's net, a kept value sent away).
            ValueError: The site cannot run it (see :class:`JobController`).
        """
        if job_id in self._cancelled:
            raise JobCancelledError(
                f"job {job_id} was cancelled before site {self.site!r} started it"
            )
        from .codegen import validate_netir

        validate_netir(netir, site=self.site, federation=self._federation)
        controller = JobController(
            netir,
            job_id=job_id,
            router=self._router,
            logger=self._log,
            decode_policy=self._policy,
            force_modgen=force_modgen,
            executor=self._pool,
            loop=asyncio.get_running_loop(),
            trace_context=trace_context,
        )
        runner = controller.runner
        self.runners[job_id] = runner
        runner.done.add_done_callback(lambda done: self._done(job_id, done))
        runner.start()

    def _done(self, job_id: str, done: asyncio.Future[None]) -> None:
        # A done callback: a later turn of the loop than the runner's end.
        runner = self.runners.pop(job_id, None)
        error = None
        if not done.cancelled() and done.exception() is not None:
            exc = done.exception()
            error = f"internal failure on site {self.site!r}: {type(exc).__name__}: {exc}"
        self._on_done(job_id, error)
        if runner is not None:
            runner.release()

    def inject(self, job_id: str, params: EncodedParams) -> None:
        """Feed parameter sets to the job's runner (dropped if the job is gone)."""
        runner = self.runners.get(job_id)
        if runner is None:
            return
        policy = runner.ctx.decode_policy
        for frame, values in params:
            runner.inject(frame, decode_params(values, policy, self.site) if values else values)

    def deliver(self, item: TokenPackage | bytes) -> None:
        """Deliver a package (dropped if its job is gone from this site)."""
        package = TokenPackage.from_wire(item) if isinstance(item, bytes) else item
        runner = self.runners.get(package.job_id)
        if runner is not None:
            runner.deliver_package(package)

    def remember_cancel(self, job_id: str) -> None:
        """Refuse to create the job from now on (any thread)."""
        self._cancelled[job_id] = None
        while len(self._cancelled) > _REMEMBERED_CANCELS:
            self._cancelled.popitem(last=False)

    def cancel(self, job_id: str) -> None:
        """Cancel the job's runner; its ``done`` resolves."""
        runner = self.runners.get(job_id)
        if runner is not None:
            runner.cancel()

    def cancel_all(self) -> None:
        """Cancel every runner (on shutdown)."""
        for runner in list(self.runners.values()):
            runner.cancel()
