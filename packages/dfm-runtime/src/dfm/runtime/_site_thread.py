"""SiteWorker: one site on a daemon thread with its own event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from dfm.api import TRUSTED, ErrorToken, decode_value
from dfm.runtime import JobController, NetRunner, Router, TokenPackage

from ._executor import DaemonThreadPool
from ._host import EncodedParams, HostEvents, SiteHost

if TYPE_CHECKING:
    from dfm.irgen import NetIR

_CHUNK = 256  # inbox items per loop callback, so cancels and firings interleave
_REMEMBERED_CANCELS = 10_000


def decode_params(values: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """Decode tagged parameter values; one that cannot be decoded becomes an ErrorToken."""
    decoded = {}
    for name, tagged in values.items():
        try:
            decoded[name] = tagged[1] if tagged[0] == "json" else decode_value(tagged, TRUSTED)
        except Exception as e:
            decoded[name] = ErrorToken.from_exception(e)
    return decoded


class SiteRunners:
    """The runners of one site, by job: creation, input, delivery, cancel (on its loop).

    Shared by the thread worker and the worker process.

    Args:
        site: The site.
        router: Where the runners' outgoing packages go.
        pool: Where sync adapters run.
        logger: The site's logger.
        on_done: Called on the loop with ``(job_id, error)`` when a runner ends.
    """

    def __init__(
        self,
        site: str,
        router: Router,
        pool: DaemonThreadPool,
        logger: logging.Logger,
        on_done: Callable[[str, str | None], None],
    ) -> None:
        """Start with no jobs."""
        self.site = site
        self.runners: dict[str, NetRunner] = {}
        self._router = router
        self._pool = pool
        self._log = logger
        self._on_done = on_done
        self._cancelled: OrderedDict[str, None] = OrderedDict()

    def create(self, job_id: str, netir: NetIR, force_modgen: bool) -> None:
        """Build and start the job's runner (raises on failure)."""
        if job_id in self._cancelled:
            raise RuntimeError(f"job {job_id} was cancelled before site {self.site} started it")
        controller = JobController(
            netir,
            job_id=job_id,
            router=self._router,
            logger=self._log,
            decode_policy=TRUSTED,
            force_modgen=force_modgen,
            executor=self._pool,
            loop=asyncio.get_running_loop(),
        )
        runner = controller.runner
        self.runners[job_id] = runner
        runner.done.add_done_callback(lambda done: self._done(job_id, done))
        runner.start()

    def _done(self, job_id: str, done: asyncio.Future[None]) -> None:
        self.runners.pop(job_id, None)
        error = None
        if not done.cancelled() and done.exception() is not None:
            exc = done.exception()
            error = f"internal failure on site {self.site!r}: {type(exc).__name__}: {exc}"
        self._on_done(job_id, error)

    def inject(self, job_id: str, params: EncodedParams) -> None:
        """Feed parameter sets to the job's runner (dropped if the job is gone)."""
        runner = self.runners.get(job_id)
        if runner is None:
            return
        for frame, values in params:
            runner.inject(frame, decode_params(values) if values else values)

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


class SiteWorker(SiteHost):
    """A site on a daemon thread running its own event loop.

    Other threads hand it work through an inbox; the loop is woken once when the inbox
    goes from empty to non-empty, and drains it in chunks. Sync adapters run on the
    site's :class:`DaemonThreadPool`.

    Args:
        site: The site's name.
        router: The target's router.
        events: Where the worker reports.
        logger: The site's logger.
        sync_workers: Size of the sync adapter pool.
    """

    def __init__(
        self,
        site: str,
        router: Router,
        events: HostEvents,
        logger: logging.Logger,
        sync_workers: int,
    ) -> None:
        """Start the thread and its loop."""
        super().__init__(site)
        self._events = events
        self._log = logger
        self._loop = asyncio.new_event_loop()
        self._pool = DaemonThreadPool(sync_workers, f"dfm-{site}-sync")
        self._runners = SiteRunners(site, router, self._pool, logger, self._runner_done)
        self._inbox: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"dfm-site-{site}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the thread runs and the worker is not closing."""
        return self._thread.is_alive() and not self._closing

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The site's event loop."""
        return self._loop

    # -- thread --------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        reason = "its event loop stopped"
        try:
            self._loop.run_forever()
        except BaseException as e:  # e.g. SystemExit raised by an adapter
            reason = f"its thread ended with {type(e).__name__}: {e}"
        finally:
            if not self._closing:
                self._log.error("Site %s is gone: %s", self.site, reason)
                self._closing = True
                self._events.site_died(self.site, reason)
            self._wind_down()

    def _wind_down(self) -> None:
        """Cancel what still runs and let it finish (bounded) before closing the loop."""
        loop = self._loop
        try:
            self._runners.cancel_all()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:
            self._log.exception("Site %s: error while stopping its event loop", self.site)
        finally:
            loop.close()
            self._fail_inbox()

    def _fail_inbox(self) -> None:
        """Drop queued work of a stopped site; jobs waiting to start hear why at once."""
        with self._lock:
            items = list(self._inbox)
            self._inbox.clear()
            self._scheduled = False
        for fn, arg in items:
            if fn == self._create:
                future = arg[3]
                if future.set_running_or_notify_cancel():
                    future.set_exception(RuntimeError(f"site {self.site!r} has stopped"))

    def _post(self, fn: Callable[[Any], None], arg: Any) -> None:
        with self._lock:
            self._inbox.append((fn, arg))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # loop closed: the site is gone and its jobs were failed
            self._fail_inbox()

    def _drain(self) -> None:
        with self._lock:
            inbox = self._inbox
            items = [inbox.popleft() for _ in range(min(_CHUNK, len(inbox)))]
            more = bool(inbox)
            if not more:
                self._scheduled = False
        for fn, arg in items:
            try:
                fn(arg)
            except Exception:
                self._log.exception("Site %s: failed to process an inbox item", self.site)
        if more:
            self._loop.call_soon(self._drain)

    # -- SiteHost ------------------------------------------------------------------
    def create(self, job_id: str, netir: NetIR, force_modgen: bool) -> Future[None]:
        """Build and start the job's runner on the site's loop."""
        future: Future[None] = Future()
        self._post(self._create, (job_id, netir, force_modgen, future))
        return future

    def _create(self, arg: tuple[str, NetIR, bool, Future[None]]) -> None:
        job_id, netir, force_modgen, future = arg
        if not future.set_running_or_notify_cancel():
            return
        try:
            self._runners.create(job_id, netir, force_modgen)
        except BaseException as e:
            future.set_exception(e)
        else:
            future.set_result(None)

    def _runner_done(self, job_id: str, error: str | None) -> None:
        self._events.site_done(job_id, self.site, error)

    def inject(self, job_id: str, params: EncodedParams) -> None:
        """Feed parameter sets, in order with everything posted before."""
        self._post(self._inject, (job_id, params))

    def _inject(self, arg: tuple[str, EncodedParams]) -> None:
        self._runners.inject(*arg)

    def deliver(self, item: TokenPackage | bytes) -> None:
        """Queue a package from another site."""
        self._post(self._runners.deliver, item)

    def cancel(self, job_id: str) -> None:
        """Cancel at the next loop iteration, ahead of queued inbox work."""
        self._runners.remember_cancel(job_id)
        try:
            self._loop.call_soon_threadsafe(self._runners.cancel, job_id)
        except RuntimeError:
            pass  # loop closed: nothing runs there any more

    def close(self, timeout: float) -> None:
        """Cancel every runner, stop the loop and join the thread (bounded)."""
        if self._closing and not self._thread.is_alive():
            return
        self._closing = True

        def stop() -> None:
            self._runners.cancel_all()
            self._loop.stop()

        try:
            self._loop.call_soon_threadsafe(stop)
        except RuntimeError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
