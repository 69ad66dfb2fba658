"""JobStarter: the server creates a DFM job's runner on every site of it, in parallel.

Each site's create request carries the job's first entries for it (the parameter sets
the application sent with ``dfm.start``), so a site starts working the moment its runner
exists instead of an aux round trip later. The start still answers only once every site
accepted its NetIR; a site that refuses it fails the job, which is cancelled on the
others. A site created first may send a token to one not created yet: that site keeps it
until its create (see ``_node``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import _stages
from ._cellnet import Create
from ._jobrecord import JobRecord
from ._node import SiteNode
from ._roster import ClientRoster
from ._service import JobTable
from ._telemetry import trace_context_from
from ._wire import Entry, unpack


class JobStarter:
    """Starts a DFM job on its sites (the clients by create request, the server's site here).

    Args:
        create_on: Sends a create request to a client; None once it created the runner,
            else why not (:func:`._cellnet.send_create` to the client's job cell).
        node: The server's node.
        table: The service's job table (the started job goes in it).
        roster: The job's clients.
        server_site: The DFM site hosted by the server ("" for a relay server).
        cancel_on: Cancels a job on sites (those created when another site failed).
    """

    def __init__(
        self,
        create_on: Callable[[str, Create], str | None],
        node: SiteNode,
        table: JobTable,
        roster: ClientRoster,
        server_site: str,
        cancel_on: Callable[[str, list[str]], None],
    ) -> None:
        """Ready to start jobs (up to 16 sites are created at a time)."""
        self._create_on_site = create_on
        self._node = node
        self._table = table
        self._roster = roster
        self._server_site = server_site
        self._cancel_on = cancel_on
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="dfm-create")

    def start(self, request: dict[str, Any], with_input: bool = True) -> dict[str, str]:
        """Create the job on every site of it; the errors by site (empty: it runs).

        With ``with_input``, the request's ``entries`` (the application's first entries,
        base64 of a packed batch) go to the sites with their creates; without, the caller
        relays them once the job started.
        """
        node, table, roster = self._node, self._table, self._roster
        job = str(request["job"])
        homesite = str(request["homesite"])
        netirs: dict[str, str] = dict(request["netirs"])
        force = bool(request.get("force_modgen", False))
        trace = trace_context_from(request.get("trace_context"))
        encoded = request.get("entries") if with_input else None
        try:
            entries = unpack(base64.b64decode(encoded)) if encoded else []
        except ValueError as e:
            raise ValueError(f"job {job}: its first entries cannot be read: {e}") from e
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
        first, rest = self._first_entries(job, netirs, entries)
        created: list[str] = []
        remote = {s: n for s, n in netirs.items() if s != self._server_site}
        futures = {  # one request per site, in parallel
            site: self._pool.submit(
                self._create_on,
                site,
                Create(job, homesite, netir, force, trace, first.get(site, [])),
            )
            for site, netir in remote.items()
        }
        if self._server_site and self._server_site in netirs:
            own = first.get(self._server_site, [])
            error = node.create(job, homesite, netirs[self._server_site], force, trace, own)
            if error:
                errors[self._server_site] = error
            else:
                created.append(self._server_site)
        for site, future in futures.items():
            error = future.result()
            if error:
                errors[site] = error
            else:
                created.append(site)
        if errors:
            table.remove(job)
            self._cancel_on(job, created)
            return errors
        if rest:
            node.receive(rest)
        return {}

    def _first_entries(
        self, job: str, netirs: dict[str, str], entries: list[Entry]
    ) -> tuple[dict[str, list[Entry]], list[Entry]]:
        """The application's first entries by site of the job, and any others (relayed).

        Entries for a remote site go in its create request: they pass the server's link
        order here (as relayed entries do), so later ones of the same links follow them.
        """
        self._table.note_input(entries)
        first: dict[str, list[Entry]] = {}
        rest: list[Entry] = []
        for entry in entries:
            if entry.job == job and entry.target in netirs:
                first.setdefault(entry.target, []).append(entry)
            else:
                rest.append(entry)
        for site in first:
            if site != self._server_site:  # the server's own site checks them in create
                first[site] = self._node.reorderer.accept(first[site])
        return first, rest

    def _create_on(self, site: str, create: Create) -> str | None:
        if create.first and _stages.ENABLED:
            _stages.stamp("create", create.first)
        return self._create_on_site(site, create)
