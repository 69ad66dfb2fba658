"""SiteNode: one party of the federation (an NVFLARE server or client job process, or the app).

A node may host one DFM site (a :class:`SiteHost`), numbers what it sends per link,
sends it through one :class:`LinkSender` per destination, and delivers what it receives
exactly once and in order. Where an entry goes:

* to the application (``@app``: yields, job events) or the homesite: the NVFLARE server,
  which keeps it for the application;
* to ``@server`` (job events for the service) or the DFM site of the NVFLARE server:
  the NVFLARE server;
* to a client site: that client, directly (client → client, no DFM code on the server).

Sites are created in parallel, each with its first parameter sets, so an entry for the
hosted site may arrive before its job's create: the node keeps it (bounded, see
:class:`~._early.EarlyEntries`) and hands it to the site right after the create, in the
order it arrived. Entries of a job that ended here are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from dfm.runtime import Router

from . import _stages
from ._early import EarlyEntries
from ._envelope import envelope
from ._host import SiteHost, new_site_host, params_from_wire
from ._sender import WINDOW, LinkSender, Transport
from ._wire import APP, DONE, FAIL, INJECT, PKG, Entry, Reorderer, Sequencer

if TYPE_CHECKING:
    from dfm.irgen import NetIR
    from dfm.runtime import TokenPackage

SERVER = "server"
"""The NVFLARE name of the server (FQCN root), whatever its participant name."""
SERVICE = "@server"
"""The target of job events for the DFM service on the NVFLARE server."""
CREATE_TIMEOUT = 60.0
MAX_ENDED = 10_000
"""Ended jobs remembered per node, so that their late entries are dropped, not kept."""


class JobInfo:
    """What a node knows of a job it takes part in."""

    __slots__ = ("homesite",)

    def __init__(self, homesite: str) -> None:
        self.homesite = homesite


class SiteNode:
    """One NVFLARE party of the federation (see the module docstring).

    Args:
        me: This party's NVFLARE name (``server`` or a client's site name).
        site: The DFM site hosted here, or None (a relay server, or an app without one).
        server_site: The DFM site hosted by the NVFLARE server, if any.
        transport: Sends one batch to an NVFLARE party and waits for its acknowledgement.
        logger: Where to log.
        local: Handles entries addressed to this party that are not for its site
            (the server's job table); default: drop them with a warning.
        federation: The federation; the hosted site refuses another one's NetIR
            (None: not checked).
    """

    link_window = WINDOW
    """Batches in flight per link."""

    def __init__(
        self,
        me: str,
        site: str | None,
        server_site: str | None,
        transport: Transport,
        logger: logging.Logger,
        local: Callable[[Entry], None] | None = None,
        federation: str | None = None,
    ) -> None:
        """No job yet; the site host starts with the first job."""
        self.me = me
        self.federation = federation
        self.site = site
        self.server_site = server_site
        self._transport = transport
        self._log = logger
        self._local = local
        self.sequencer = Sequencer()
        self.reorderer = Reorderer()
        self.jobs: dict[str, JobInfo] = {}
        self._links: dict[str, LinkSender] = {}
        self._host: SiteHost | None = None
        self._lock = threading.Lock()
        self._router = _NodeRouter(self)
        # Orders the hosted site's deliveries: a job's create, then what came early.
        self._site_lock = threading.Lock()
        self._opened: set[str] = set()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self.early = EarlyEntries(logger)

    # -- addressing ------------------------------------------------------------------
    def destination(self, target: str, job: str) -> str:
        """The NVFLARE party an entry for ``target`` is sent to."""
        if target in (APP, SERVICE) or target == self.server_site:
            return SERVER
        info = self.jobs.get(job)
        if info is not None and target == info.homesite:
            return SERVER
        return target

    def link(self, destination: str) -> LinkSender:
        """The sender to an NVFLARE party (created on first use)."""
        with self._lock:
            sender = self._links.get(destination)
            if sender is None:
                sender = LinkSender(
                    destination, self._transport, self._log, window=self.link_window
                )
                self._links[destination] = sender
            return sender

    def send(self, entries: list[Entry]) -> None:
        """Send entries (already numbered) towards their targets; never blocks."""
        if _stages.ENABLED:
            _stages.stamp("put", entries)
        by_destination: dict[str, list[Entry]] = {}
        for entry in entries:
            destination = self.destination(entry.target, entry.job)
            if destination == self.me:
                self._arrived(entry)
            else:
                by_destination.setdefault(destination, []).append(entry)
        for destination, batch in by_destination.items():
            self.link(destination).put(batch)

    def emit(self, kind: str, job: str, target: str, data: Any, source: str | None = None) -> None:
        """Number one entry from this node's site (or ``source``) and send it."""
        origin = source or self.site or self.me
        self.send([self.sequencer.entry(kind, job, origin, target, data)])

    # -- receiving -------------------------------------------------------------------
    def receive(self, entries: list[Entry]) -> None:
        """Entries from another party: each delivered once, in link order."""
        for entry in self.reorderer.accept(entries):
            if self.destination(entry.target, entry.job) == self.me:
                self._arrived(entry)
            else:
                self.send([entry])  # the server relays, keeping the sender's numbering

    def _arrived(self, entry: Entry) -> None:
        if self.site is not None and entry.target == self.site:
            self._deliver(entry)
        elif self._local is not None:
            self._local(entry)
        else:
            self._log.warning(
                "Dropped a %s entry of job %s for %s: not hosted here",
                entry.kind,
                entry.job,
                entry.target,
            )

    def _deliver(self, entry: Entry) -> None:
        with self._site_lock:
            if entry.job in self._opened and self._host is not None:
                self._hand(self._host, entry)
            elif entry.job in self._ended:
                self._log.debug("Dropped a %s entry of ended job %s", entry.kind, entry.job)
            else:
                self.early.keep(entry)  # its create has not come yet

    def _hand(self, host: SiteHost, entry: Entry) -> None:
        """Give an entry to the hosted site (under ``_site_lock``: in delivery order)."""
        if _stages.ENABLED:
            _stages.stamp("deliver", [entry])
        if entry.kind == PKG and isinstance(entry.data, bytes):
            host.deliver(entry.data)
        elif entry.kind == INJECT:
            try:
                params = params_from_wire(entry.data)
            except ValueError as e:
                self._log.error(
                    "Job %s: bad parameter sets from %s: %s", entry.job, entry.source, e
                )
                return
            host.inject(entry.job, params)
        else:
            self._log.warning("Job %s: unexpected %s entry for the site", entry.job, entry.kind)

    # -- the site's jobs -------------------------------------------------------------
    @property
    def router(self) -> _NodeRouter:
        """The router of the hosted site."""
        return self._router

    def host(self) -> SiteHost:
        """The hosted site's host (started on first use, restarted if it died)."""
        if self.site is None:
            raise RuntimeError(f"{self.me} hosts no DFM site")
        with self._lock:
            if self._host is None or not self._host.alive:
                log = self._log.getChild(self.site)
                self._host = new_site_host(self.site, self._router, self, log, self.federation)
            return self._host

    def create(
        self,
        job: str,
        homesite: str,
        netir_json: str,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
        first: Iterable[Entry] = (),
    ) -> str | None:
        """Build and start the job's runner on the hosted site; the error, or None.

        The NetIR is untrusted: the site checks it (its names, its site and federation)
        before anything is generated. ``trace_context`` is the job's W3C trace context;
        ``first`` are the job's first entries for the site (its first parameter sets),
        handed to it right after the runner is built, before this returns.
        """
        from dfm.irgen import NetIR

        try:
            netir = NetIR.model_validate_json(netir_json)
        except Exception as e:
            return f"Site {self.site!r} refuses the NetIR: it is not a valid NetIR: {e}"
        if netir.site != self.site:
            return f"Site {self.site!r} refuses the NetIR: it is for site {netir.site!r}"
        try:
            future = self.start_job(job, homesite, netir, force_modgen, trace_context, first)
            future.result(CREATE_TIMEOUT)
        except Exception as e:
            self._end_job(job)
            self.jobs.pop(job, None)
            return f"{type(e).__name__}: {e}" if not str(e) else str(e)
        return None

    def start_job(
        self,
        job: str,
        homesite: str,
        netir: NetIR,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
        first: Iterable[Entry] = (),
    ) -> Future[None]:
        """Post the job's create to the hosted site, then its entries; the create's future.

        The site's inbox is FIFO: ``first`` (after the link-order check), then what came
        early, run right after the runner is built, in order.

        Raises:
            RuntimeError: Entries of the job that came early were dropped (a bound).
        """
        ready = self.reorderer.accept(first)
        with self._site_lock:
            self.jobs[job] = JobInfo(homesite)
            self._ended.pop(job, None)
            early, dropped = self.early.take(job)
            if dropped:
                raise RuntimeError(
                    f"site {self.site!r} lost {dropped} entries of job {job} that arrived "
                    "before the job was created (too many entries waiting at once, or they "
                    "waited too long); run the job again"
                )
            host = self.host()
            future = host.create(job, netir, force_modgen, trace_context)
            self._opened.add(job)
            for entry in ready:
                self._hand(host, entry)
            for entry in early:
                self._hand(host, entry)
        return future

    def _end_job(self, job: str) -> None:
        """The job is over here: what comes for it from now on is dropped."""
        with self._site_lock:
            self._opened.discard(job)
            self.early.discard(job)
            self._ended[job] = None
            self._ended.move_to_end(job)
            while len(self._ended) > MAX_ENDED:
                self._ended.popitem(last=False)

    def register(self, job: str, homesite: str) -> None:
        """Know a job this node relays for but does not run."""
        self.jobs.setdefault(job, JobInfo(homesite))

    def cancel(self, job: str) -> None:
        """Cancel the job's runner here; its queued entries are not sent."""
        host = self._host
        if host is not None and job in self.jobs:
            host.cancel(job)
        with self._site_lock:
            if job not in self._opened:
                self.early.discard(job)  # it will not run here

    def forget(self, job: str) -> None:
        """Drop what the node keeps for an ended job."""
        self._end_job(job)
        self.jobs.pop(job, None)
        self.sequencer.forget(job)
        self.reorderer.forget(job)

    def flush(self, timeout: float) -> None:
        """Wait (bounded) until every link delivered what was queued."""
        import time

        deadline = time.monotonic() + timeout
        with self._lock:
            links = list(self._links.values())
        for sender in links:
            sender.wait_idle(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop the site and the senders."""
        with self._lock:
            host, self._host = self._host, None
            links = list(self._links.values())
            self._links.clear()
        if host is not None:
            host.close(2.0)
        for sender in links:
            sender.close()

    # -- HostEvents (from the site host's thread) ---------------------------------------
    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        """The site's runner ended: tell the service."""
        self._end_job(job_id)
        self.emit(DONE, job_id, SERVICE, error)

    def yield_package(self, job_id: str, item: TokenPackage | bytes) -> None:
        """Not used: yields go through the router."""
        self._router.route_wire(job_id, item)

    def site_died(self, site: str, reason: str) -> None:
        """The site's thread is gone: every job it ran fails."""
        for job in list(self.jobs):
            self.emit(FAIL, job, SERVICE, [f"site {site!r} stopped: {reason}", site])


class _NodeRouter(Router):
    """The hosted site's router: every package leaves as its envelope, numbered per link."""

    def __init__(self, node: SiteNode) -> None:
        self._node = node

    def route(self, package: TokenPackage) -> None:
        """Send a package towards its target without blocking."""
        node = self._node
        info = node.jobs.get(package.job_id)
        target = APP if package.is_yield else package.target_site
        if info is None:
            node._log.warning("Dropped a token of unknown job %s", package.job_id)
            return
        node.emit(PKG, package.job_id, target, envelope(package))

    def route_wire(self, job_id: str, item: TokenPackage | bytes) -> None:
        """Send a yield (package or envelope) to the application."""
        if not isinstance(item, bytes):
            self.route(item)
        else:
            self._node.emit(PKG, job_id, APP, item)
