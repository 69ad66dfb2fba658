"""SiteProcess: one site in a child process (``processes=True``), seen from the parent."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from dfm.runtime import EncodedParams, HostEvents, JobCancelledError, SiteHost, child_environment

from ._channel import Channel, pack
from ._fields import params_to_send
from ._memcap import MemoryCap

if TYPE_CHECKING:
    from dfm.irgen import NetIR
    from dfm.runtime import TokenPackage

CHILD_MODULE = "dfm.targets.local._child"
# glibc (2.35+) backs big allocations of a site process with transparent huge pages: a
# 200 MB value received from another site is read into 100 pages instead of 50,000.
# Other C libraries ignore the variable.
_HUGE_PAGES = "glibc.malloc.hugetlb=1"
_INJECT_CHUNK = 1024  # parameter sets per message to a site process


def site_process_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A site process's environment: the application's, telemetry as here, huge pages."""
    env = child_environment(environ) or dict(environ)
    tunables = env.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" not in tunables:
        env["GLIBC_TUNABLES"] = f"{tunables}:{_HUGE_PAGES}" if tunables else _HUGE_PAGES
    return env


class SiteProcess(SiteHost):
    """A site running in its own Python process, started with :data:`CHILD_MODULE`.

    Packages cross over a socket pair (see :mod:`._channel`); a reader thread per child
    forwards the child's packages to other sites (``forward``) and its yields and
    job ends to the target (``events``). The child exits when this process dies.

    Args:
        site: The site's name.
        events: Where the host reports.
        forward: ``forward(site, [wire_bytes, ...])`` delivers packages to another site.
        logger: The site's logger.
        sync_workers: Size of the child's sync adapter pool.
        federation: The federation the site belongs to (it refuses other NetIRs).
        memory_limit_mb: End the process when its resident memory goes over this many
            MiB (None: no cap).
    """

    def __init__(
        self,
        site: str,
        events: HostEvents,
        forward: Callable[[str, list[bytes]], None],
        logger: logging.Logger,
        sync_workers: int,
        federation: str | None = None,
        memory_limit_mb: int | None = None,
    ) -> None:
        """Start the child process and its reader thread."""
        super().__init__(site)
        self._events = events
        self._forward = forward
        self._log = logger
        self._lock = threading.Lock()
        self._inject_lock = threading.Lock()
        self._creating: dict[str, Future[None]] = {}
        self._dead = False
        self._closing = False
        self._end_reason: str | None = None
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=site_process_environment(os.environ),
            )
        finally:
            theirs.close()
        self._conn = Channel(ours)
        self._send(("init", site, list(sys.path), sync_workers, federation))
        self._reader = threading.Thread(target=self._read, name=f"dfm-proc-{site}", daemon=True)
        self._reader.start()
        self._cap: MemoryCap | None = None
        if memory_limit_mb is not None:
            self._cap = MemoryCap(self._proc.pid, memory_limit_mb, self._ended_by, self._proc.kill)

    def _ended_by(self, reason: str) -> None:
        self._end_reason = reason
        self._log.error("Site %s: %s", self.site, reason)

    @property
    def alive(self) -> bool:
        """Whether the child runs and is not closing."""
        return not self._dead and not self._closing and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._proc.pid

    def _send(self, message: tuple[Any, ...]) -> bool:
        try:
            self._conn.send(message)
            return True
        except (OSError, ValueError):
            return False  # the reader thread reports the dead child

    def _read(self) -> None:
        conn, events, site = self._conn, self._events, self.site
        reason = "its process ended"
        try:
            while True:
                received = conn.recv()
                outgoing: dict[str, list[Any]] = {}
                for message in received[1] if received[0] == "batch" else (received,):
                    kind = message[0]
                    if kind == "pkg":
                        outgoing.setdefault(message[1], []).append(message[2])
                    elif kind == "yield":
                        events.yield_package(message[1], message[2])
                    elif kind == "done":
                        events.site_done(message[1], site, message[2])
                    elif kind == "created":
                        self._created(*message[1:])
                    elif kind == "died":
                        reason = str(message[1])
                for target_site, packages in outgoing.items():
                    self._forward(target_site, packages)
        except (EOFError, OSError):
            pass
        except Exception:
            self._log.exception("Site %s: broken message from its process", site)
        try:
            code: int | None = self._proc.wait(2.0)
        except subprocess.TimeoutExpired:
            code = None
        self._dead = True
        conn.close()  # senders on other threads now fail at once (and say nothing)
        if self._cap is not None:
            self._cap.stop()
        if self._end_reason is not None:
            reason = self._end_reason
        elif code is not None and code != 0 and reason == "its process ended":
            reason = f"its process exited with code {code}"
        with self._lock:
            pending, self._creating = self._creating, {}
        for future in pending.values():
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError(f"site {site!r} stopped: {reason}"))
        if not self._closing:
            self._log.error("Site %s is gone: %s", site, reason)
            events.site_died(site, reason)

    def _created(self, job_id: str, error: str | None, cancelled: bool = False) -> None:
        with self._lock:
            future = self._creating.pop(job_id, None)
        if future is None or not future.set_running_or_notify_cancel():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(JobCancelledError(error) if cancelled else ValueError(error))

    def create(
        self,
        job_id: str,
        netir: NetIR,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
    ) -> Future[None]:
        """Ask the child to build and start the job's runner."""
        future: Future[None] = Future()
        with self._lock:
            self._creating[job_id] = future
        carrier = dict(trace_context) if trace_context else None
        if not self._send(("create", job_id, netir.model_dump_json(), force_modgen, carrier)):
            self._created(job_id, f"site {self.site!r} is not running")
        return future

    def inject(self, job_id: str, params: EncodedParams) -> None:
        """Send parameter sets to the child, about a thousand per message.

        The site starts on the first sets while the rest are pickled here, and neither
        side holds the GIL for a whole batch of thousands at once.
        """
        with self._inject_lock:  # one call's sets stay together, as in one message
            for start in range(0, max(len(params), 1), _INJECT_CHUNK):
                chunk = params_to_send(params[start : start + _INJECT_CHUNK])
                if not self._send(("inject", job_id, chunk)):
                    return

    def deliver(self, item: TokenPackage | bytes) -> None:
        """Send a package (or its wire bytes) to the child."""
        self._send(("pkgs", [item if isinstance(item, bytes) else pack(item)]))

    def deliver_many(self, items: list[Any]) -> None:
        """Send packages (wire bytes or shared envelopes) to the child in one message."""
        self._send(("pkgs", items))

    def cancel(self, job_id: str) -> None:
        """Ask the child to cancel the job's runner."""
        self._send(("cancel", job_id))

    def close(self, timeout: float) -> None:
        """Ask the child to stop; kill it if it has not within ``timeout`` seconds."""
        if self._closing:
            return
        self._closing = True
        self._send(("stop",))
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._log.warning("Site %s did not stop within %.1fs; killing it", self.site, timeout)
            self._proc.kill()
            self._proc.wait(1.0)
        self._conn.close()
        if self._reader is not threading.current_thread():
            self._reader.join(1.0)


def child_pids(hosts: dict[str, SiteHost]) -> dict[str, int]:
    """The process ids of the site processes among ``hosts``."""
    return {site: h.pid for site, h in hosts.items() if isinstance(h, SiteProcess)}
