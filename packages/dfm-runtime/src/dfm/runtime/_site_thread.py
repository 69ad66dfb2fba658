"""SiteThread: one site on a daemon thread with its own event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from dfm.api import DecodePolicy

from ._host import HostEvents, SiteHost
from ._loops import close_event_loop
from ._package import Router, TokenPackage
from ._params import EncodedParams
from ._pool import DaemonThreadPool
from ._site_runners import SiteRunners

if TYPE_CHECKING:
    from dfm.irgen import NetIR

_CHUNK = 256  # inbox items per loop callback, so cancels and firings interleave
_INJECT_BATCH = 512  # parameter sets per inbox item


class SiteThread(SiteHost):
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
        decode_policy: What the site accepts in parameters, packages and literals; None:
            the site's own policy from its runtime package (restrictive by default).
        federation: The site's federation; a NetIR for another one is refused (None:
            not checked).
    """

    def __init__(
        self,
        site: str,
        router: Router,
        events: HostEvents,
        logger: logging.Logger,
        sync_workers: int = 64,
        decode_policy: DecodePolicy | None = None,
        federation: str | None = None,
    ) -> None:
        """Start the thread and its loop."""
        super().__init__(site)
        self._events = events
        self._log = logger
        self._loop = asyncio.new_event_loop()
        self._pool = DaemonThreadPool(sync_workers, f"dfm-{site}-sync")
        self._runners = SiteRunners(
            site, router, self._pool, logger, self._runner_done, decode_policy, federation
        )
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

    @property
    def thread_id(self) -> int | None:
        """The identifier of the thread running the loop (``threading.get_ident()``)."""
        return self._thread.ident

    # -- thread --------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        reason = "its event loop stopped"
        try:
            while True:
                try:
                    self._loop.run_forever()
                except (SystemExit, KeyboardInterrupt) as e:
                    # Only these escape asyncio's callbacks: raised by a task an adapter
                    # started and left alone (an adapter's own call gets an ErrorToken).
                    self._log.error(
                        "Site %s: %s escaped to the event loop (from a task an adapter "
                        "started?); the site carries on",
                        self.site,
                        f"{type(e).__name__}: {e}",
                    )
                    continue
                if self._closing:
                    break
                # Someone else stopped the loop (an adapter's loop.stop()): carry on.
                self._log.error("Site %s: its event loop was stopped, not by close()", self.site)
        except BaseException as e:
            reason = f"its thread ended with {type(e).__name__}: {e}"
        finally:
            if not self._closing:
                self._log.error("Site %s is gone: %s", self.site, reason)
                self._closing = True
                self._events.site_died(self.site, reason)
            self._wind_down()

    def _wind_down(self) -> None:
        """Cancel what still runs and let it finish (bounded) before closing the loop."""
        try:
            self._runners.cancel_all()
        except BaseException:
            self._log.exception("Site %s: error while cancelling its jobs", self.site)
        try:
            close_event_loop(self._loop)
        except BaseException:
            self._log.exception("Site %s: error while stopping its event loop", self.site)
        finally:
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
        inbox, lock = self._inbox, self._lock
        for _ in range(_CHUNK):
            with lock:
                if not inbox:
                    self._scheduled = False
                    return
                fn, arg = inbox.popleft()
            try:
                fn(arg)
            except Exception:
                self._log.exception("Site %s: failed to process an inbox item", self.site)
            if fn == self._inject:
                break  # the firings of these frames run before more input is taken
        self._loop.call_soon(self._drain)

    # -- SiteHost ------------------------------------------------------------------
    def create(
        self,
        job_id: str,
        netir: NetIR,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
    ) -> Future[None]:
        """Build and start the job's runner on the site's loop."""
        future: Future[None] = Future()
        self._post(self._create, (job_id, netir, force_modgen, future, trace_context))
        return future

    def _create(self, arg: tuple[str, NetIR, bool, Future[None], Mapping[str, str] | None]) -> None:
        job_id, netir, force_modgen, future, trace_context = arg
        if not future.set_running_or_notify_cancel():
            return
        try:
            self._runners.create(job_id, netir, force_modgen, trace_context)
        except BaseException as e:
            future.set_exception(e)
        else:
            future.set_result(None)

    def _runner_done(self, job_id: str, error: str | None) -> None:
        self._events.site_done(job_id, self.site, error)

    def inject(self, job_id: str, params: EncodedParams) -> None:
        """Feed parameter sets, in order with everything posted before.

        Many sets are fed a few hundred at a time, each batch's firings running before
        the next is taken: results flow while the input is still coming in, and far
        fewer firings wait at once (the garbage collector scans every waiting one).
        """
        for start in range(0, max(len(params), 1), _INJECT_BATCH):
            self._post(self._inject, (job_id, params[start : start + _INJECT_BATCH]))

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
