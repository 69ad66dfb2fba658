"""JobStarter: the server creates a DFM job's runner on every site of it, in parallel."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.shareable import Shareable

from ._node import SiteNode
from ._protocol import Topic
from ._roster import ClientRoster
from ._service import JobRecord, JobTable
from ._telemetry import trace_context_from


class JobStarter:
    """Starts a DFM job on its sites (the clients by aux request, the server's site here).

    Args:
        engine: The server job's NVFLARE engine.
        node: The server's node.
        table: The service's job table (the started job goes in it).
        roster: The job's clients.
        server_site: The DFM site hosted by the server ("" for a relay server).
        cancel_on: Cancels a job on sites (those created when another site failed).
    """

    def __init__(
        self,
        engine: Any,
        node: SiteNode,
        table: JobTable,
        roster: ClientRoster,
        server_site: str,
        cancel_on: Callable[[str, list[str]], None],
    ) -> None:
        """Ready to start jobs (up to 16 sites are created at a time)."""
        self._engine = engine
        self._node = node
        self._table = table
        self._roster = roster
        self._server_site = server_site
        self._cancel_on = cancel_on
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="dfm-create")

    def start(self, request: dict[str, Any]) -> dict[str, str]:
        """Create the job on every site of it; the errors by site (empty: it runs)."""
        node, table, roster = self._node, self._table, self._roster
        job = str(request["job"])
        homesite = str(request["homesite"])
        netirs: dict[str, str] = dict(request["netirs"])
        force = bool(request.get("force_modgen", False))
        trace = trace_context_from(request.get("trace_context"))
        errors: dict[str, str] = {}
        unknown = [s for s in netirs if s != self._server_site and s not in roster.clients]
        for site in unknown:
            errors[site] = f"site {site!r} is not part of this FLARE federation"
        for site in netirs:
            problem = roster.why_unusable(site)
            if problem:
                errors[site] = problem
        if errors:
            return errors
        node.register(job, homesite)
        sites = sorted(set(request.get("sites") or []) | set(netirs))
        record = JobRecord(job, homesite, sites, str(request.get("pipeline", "")))
        record.subscriber = request.get("subscriber") or None
        if isinstance(request.get("prepared"), str):  # for handles of other processes
            record.extra["prepared"] = request["prepared"]
        table.add(record)
        created: list[str] = []
        remote = {s: n for s, n in netirs.items() if s != self._server_site}
        if remote:
            # One aux request per site, in parallel (NVFLARE 2.9's multicast_aux_requests
            # fails on the server: broadcast_multi_requests() takes no abort_signal).
            futures = {
                site: self._pool.submit(self._create_on, site, job, homesite, netir, force, trace)
                for site, netir in remote.items()
            }
            for site, future in futures.items():
                error = future.result()
                if error:
                    errors[site] = error
                else:
                    created.append(site)
        if self._server_site and self._server_site in netirs:
            error = node.create(job, homesite, netirs[self._server_site], force, trace)
            if error:
                errors[self._server_site] = error
            else:
                created.append(self._server_site)
        if errors:
            table.remove(job)
            self._cancel_on(job, created)
            return errors
        return {}

    def _create_on(
        self,
        site: str,
        job: str,
        homesite: str,
        netir: str,
        force: bool,
        trace: dict[str, str] | None,
    ) -> str | None:
        request = Shareable()
        request["job"], request["homesite"], request["netir"], request["force"] = (
            job,
            homesite,
            netir,
            force,
        )
        request["trace"] = trace or {}
        with self._engine.new_context() as fl_ctx:
            replies = self._engine.send_aux_request(
                targets=[site], topic=Topic.CREATE, request=request, timeout=60.0, fl_ctx=fl_ctx
            )
        reply = replies.get(site) if replies else None
        if reply is None:
            return f"site {site!r} did not answer"
        if reply.get_return_code() != ReturnCode.OK:
            return str(reply.get("error") or reply.get_return_code())
        return None
