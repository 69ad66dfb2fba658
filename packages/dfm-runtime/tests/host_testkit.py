"""Sites on SiteThreads, wired in-process: what a target does, reduced to the host API.

(A module, not conftest.py: tests import it; conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from dfm.api import STATUS_PLACE_NAME, DecodePolicy, Frame
from dfm.irgen import NetIR
from dfm.runtime import Router, SiteThread, TokenPackage, encode_params

LOG = logging.getLogger("host-testkit")


class Hosts(Router):
    """A SiteThread per site; yields decoded (under ``app_policy``) and collected."""

    def __init__(
        self,
        sites: Iterable[str],
        app_policy: DecodePolicy | None = None,
        federation: str | None = None,
        **host_kwargs: Any,
    ) -> None:
        self.lock = threading.Lock()
        self.yields: dict[str, list[tuple[Frame, str, Any]]] = {}
        self.done: dict[str, dict[str, str | None]] = {}
        self.ended: dict[str, threading.Event] = {}
        self.died: list[tuple[str, str]] = []
        self.app_policy = app_policy or DecodePolicy()
        self.hosts = {
            site: SiteThread(site, self, self, LOG, federation=federation, **host_kwargs)
            for site in sites
        }
        self.expected: dict[str, set[str]] = {}

    # Router
    def route(self, package: TokenPackage) -> None:
        if package.is_yield:
            self.yield_package(package.job_id, package)
        else:
            self.hosts[package.target_site].deliver(package)

    # HostEvents
    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        with self.lock:
            done = self.done.setdefault(job_id, {})
            done[site] = error
            if set(done) >= self.expected.get(job_id, set()):
                self.ended.setdefault(job_id, threading.Event()).set()

    def yield_package(self, job_id: str, item: TokenPackage | bytes) -> None:
        package = TokenPackage.from_wire(item) if isinstance(item, bytes) else item
        try:
            value = package.unwrap(self.app_policy)
        except Exception as e:  # noqa: BLE001 - recorded for the test to look at
            value = e
        with self.lock:
            self.yields.setdefault(job_id, []).append((package.frame, package.target_place, value))

    def site_died(self, site: str, reason: str) -> None:
        self.died.append((site, reason))

    # driving
    def run(
        self, job_id: str, nets: dict[str, NetIR], params: list[dict[str, Any]], timeout: float = 10
    ) -> dict[Frame, Any]:
        """Start the job on its sites, feed the sets and the stop frame, wait for the end."""
        self.start(job_id, nets)
        self.feed(job_id, nets, params, stop=True)
        assert self.wait(job_id, timeout), f"job {job_id} did not end: {self.done.get(job_id)}"
        return self.values(job_id)

    def start(self, job_id: str, nets: dict[str, NetIR]) -> None:
        self.expected[job_id] = set(nets)
        self.ended.setdefault(job_id, threading.Event())
        futures = [self.hosts[s].create(job_id, net, False) for s, net in nets.items()]
        for future in futures:
            future.result(10)

    def feed(
        self, job_id: str, nets: dict[str, NetIR], params: list[dict[str, Any]], stop: bool
    ) -> None:
        framed = [(Frame.start_frame(i), p) for i, p in enumerate(params)]
        if stop:
            framed.append((Frame.stop_frame(), {}))
        encoded = encode_params(framed)
        for site, net in nets.items():
            self.hosts[site].inject(job_id, net.pick_input_params(encoded))

    def wait(self, job_id: str, timeout: float) -> bool:
        return self.ended.setdefault(job_id, threading.Event()).wait(timeout)

    def values(self, job_id: str, place: str = "yield") -> dict[Frame, Any]:
        with self.lock:
            return {f: v for f, p, v in self.yields.get(job_id, []) if p == place}

    def statuses(self, job_id: str) -> dict[Frame, Any]:
        return self.values(job_id, STATUS_PLACE_NAME)

    def close(self) -> None:
        for host in self.hosts.values():
            host.close(2.0)
