"""The entry point of a site process: ``python -m dfm.targets.local._child FD``.

The parent (``processes=True``) starts this module itself rather than through
``multiprocessing``'s spawn start method, which would re-run the application's
``__main__`` module in every child: here nothing of the application is imported
but the federation package, so scripts need no ``if __name__ == "__main__":`` guard.

The child talks to the parent over the inherited socket ``FD`` (a
:class:`~dfm.targets.local._channel.Channel`: pickled tuples, packages as wire bytes,
big ones in shared memory).
The first message is ``("init", site, sys_path, sync_workers, federation)``. When the parent
dies, the socket reaches EOF and the child exits at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any

from ._channel import Channel, pack, unpack
from ._fields import received_params

_BATCH = 256


class _Parent:
    """The connection to the parent; sends from any thread.

    Messages sent on the site's event loop are batched: they are sent together
    (``("batch", [...])``) when the loop has processed what it was doing, or once
    there are ``_BATCH`` of them, so a burst of tokens costs one write per batch.
    """

    def __init__(self, conn: Channel) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None  # the thread running ``loop``
        self.outbox: list[tuple[Any, ...]] = []

    def _write(self, message: tuple[Any, ...]) -> None:
        try:
            with self.lock:
                self.conn.send(message)
        except OSError:
            os._exit(0)  # the parent is gone

    def send(self, message: tuple[Any, ...]) -> None:
        loop = self.loop
        if loop is None or threading.get_ident() != self.loop_thread:
            self._write(message)
            return
        outbox = self.outbox
        if not outbox:
            loop.call_soon(self.flush)
        outbox.append(message)
        if len(outbox) >= _BATCH:
            # A long burst (thousands of frames in one loop turn) goes out as it is
            # made, so that the application works on it in parallel.
            self.flush()

    def flush(self) -> None:
        batch, self.outbox = self.outbox, []
        if batch:
            self._write(("batch", batch))


class _Forward:
    """Stands for another site: packages go to the parent, which forwards them."""

    def __init__(self, parent: _Parent, site: str) -> None:
        self.parent, self.site = parent, site

    def deliver(self, item: Any) -> None:
        self.parent.send(("pkg", self.site, item))


class _Sites(Mapping[str, Any]):
    """Every other site, as seen by the child's router."""

    def __init__(self, parent: _Parent) -> None:
        self.parent = parent

    def __getitem__(self, site: str) -> _Forward:
        return _Forward(self.parent, site)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _Events:
    """Reports the site's job ends and yields to the parent."""

    def __init__(self, parent: _Parent) -> None:
        self.parent = parent

    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        self.parent.send(("done", job_id, error))

    def yield_package(self, job_id: str, item: Any) -> None:
        self.parent.send(("yield", job_id, item))

    def site_died(self, site: str, reason: str) -> None:
        self.parent.flush()
        self.parent._write(("died", reason))
        os._exit(1)


# What a stopping site process waits for its telemetry (the parent stops its sites in
# parallel and waits 2 s): a dead collector must not slow the application's exit.
_TELEMETRY_FLUSH = 0.3


def main(argv: list[str]) -> int:
    """Run one site until the parent says stop or goes away."""
    # Ctrl-C in a terminal reaches every process of the group: the application decides
    # what happens to its sites (it stops them, or they exit with it), not the signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Channel(socket.socket(fileno=int(argv[0])))
    try:
        message = conn.recv()
    except EOFError:
        return 0
    _, site, sys_path, sync_workers, federation = message
    sys.path[:] = list(dict.fromkeys([*sys_path, *sys.path]))
    logging.basicConfig(format=f"%(asctime)s [site {site}] %(name)s %(levelname)s: %(message)s")
    parent = _Parent(conn)

    from dfm.irgen import NetIR
    from dfm.runtime import (
        JobCancelledError,
        SiteThread,
        shutdown_telemetry,
        start_telemetry,
        telemetry_requested,
    )

    from ._router import LocalRouter

    if telemetry_requested():
        start_telemetry("site", site=site)  # DFM owns this process: it configures the SDK
    log = logging.getLogger(f"dfm.targets.local.{site}")
    events = _Events(parent)
    router = LocalRouter(_Sites(parent), events, True, log, pack)
    worker = SiteThread(site, router, events, log, sync_workers, federation=federation)
    parent.loop = worker.loop
    parent.loop_thread = worker.thread_id
    # What is loaded now (DFM, pydantic and their models) lives as long as the process:
    # the garbage collector need not scan it again at every full collection.
    gc.collect()
    gc.freeze()
    parent.send(("ready", os.getpid()))

    def created(job_id: str) -> Callable[[Future[None]], None]:
        def report(future: Future[None]) -> None:
            # Sent at once, not batched: the job's first adapter call (queued right
            # behind the creation) could take the process down before a flush.
            error = future.exception()
            parent.flush()
            text = None if error is None else f"{error}"
            parent._write(("created", job_id, text, isinstance(error, JobCancelledError)))

        return report

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the parent died: never outlive it
        kind = message[0]
        if kind == "pkgs":
            for item in message[1]:
                try:
                    worker.deliver(unpack(item))
                except (OSError, ValueError):
                    log.exception("Site %s: cannot read a package", site)
        elif kind == "inject":
            worker.inject(message[1], received_params(message[2]))
        elif kind == "create":
            job_id, netir_json, force_modgen, trace_context = message[1:]
            try:
                netir = NetIR.model_validate_json(netir_json)
            except Exception as e:
                parent.send(("created", job_id, f"Site {site!r} refuses the NetIR: {e}"))
                continue
            future = worker.create(job_id, netir, force_modgen, trace_context)
            future.add_done_callback(created(job_id))
        elif kind == "cancel":
            worker.cancel(message[1])
        elif kind == "stop":
            worker.close(1.0)
            shutdown_telemetry(_TELEMETRY_FLUSH)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
