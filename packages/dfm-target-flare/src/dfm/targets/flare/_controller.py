"""ServiceController: the NVFLARE server side of DFM (runs in the server's job process).

Imported only by NVFLARE (the class path is in the job's ``config_fed_server.json``).
It broadcasts one never-ending task ``dfm.serve`` to every client, answers the
application's app commands, hosts the DFM site of the server (if the federation has
one), relays what the application sends, keeps the application's outbox, and pings
the clients so that a dead one fails its DFM jobs within seconds.

In ``oneshot`` mode (per-job mode) it runs the one DFM job given in its arguments and
ends when that job has ended and its results reached the application; a failed job
ends the NVFLARE job with ``system_panic`` (status ``FINISHED:EXECUTION_EXCEPTION``).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

from nvflare.apis.controller_spec import ClientTask, Task
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.impl.controller import Controller
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.apis.signal import Signal

from ._jobrecord import JobRecord
from ._jobstart import JobStarter
from ._linkorder import LinkOrder, LinkOrderError
from ._node import SERVER, SERVICE, SiteNode
from ._protocol import PROTOCOL_VERSION, SERVE_TASK, Topic
from ._roster import ClientRoster
from ._servertransport import ServerCells
from ._service import JobTable
from ._telemetry import start_site_telemetry, stop_site_telemetry
from ._wire import APP, DONE, FAIL, FINAL, STARTED, Entry, pack, unpack

_LOG = logging.getLogger("dfm.targets.flare.server")
ONESHOT_GRACE = 30.0
"""Seconds a per-job NVFLARE job waits for the application after its DFM job ended."""


class ServiceController(Controller):  # type: ignore[misc]  # NVFLARE is untyped
    """The DFM service (or one DFM job, ``oneshot``) on the NVFLARE server.

    Args:
        federation: The federation package.
        server_site: The DFM site hosted by the server ("" for a relay server).
        oneshot: Per-job mode: the one job to run, base64 of its JSON ("" for service mode).
        ping_interval: Seconds between liveness pings of the clients.
        ping_timeout: Seconds a client may take to answer a ping.
        misses: Missed pings in a row after which a client counts as dead.
    """

    def __init__(
        self,
        federation: str = "",
        server_site: str = "",
        oneshot: str = "",
        ping_interval: float = 1.0,
        ping_timeout: float = 2.0,
        misses: int = 2,
    ) -> None:
        """Keep the arguments; everything starts in ``start_controller``."""
        super().__init__(task_check_period=0.2)
        self.federation = federation
        self.server_site = server_site
        self.oneshot = oneshot
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.misses = misses
        self._engine: Any = None
        self._roster = ClientRoster(self._client_dead, _LOG, ping_timeout, misses)
        self._stop = threading.Event()
        self._retiring = False
        self._node: SiteNode | None = None
        self._table: JobTable | None = None
        self._starter: JobStarter | None = None
        self._cells: ServerCells | None = None
        self._app_order = LinkOrder(self._from_app)

    # -- NVFLARE lifecycle ---------------------------------------------------------------
    def start_controller(self, fl_ctx: FLContext) -> None:
        """Register the app commands and aux handlers; start the site and the outbox."""
        engine = fl_ctx.get_engine()
        self._engine = engine
        self._roster.clients = sorted(c.name for c in engine.get_clients())
        if self.server_site:
            start_site_telemetry(self.server_site, _LOG)
        cells = ServerCells(engine.get_cell(), str(fl_ctx.get_job_id()), self._roster, _LOG)
        self._cells = cells
        self._node = SiteNode(
            SERVER,
            self.server_site or None,
            self.server_site or None,
            cells.send_link,
            _LOG,
            local=self._local,
            federation=self.federation or None,
        )
        self._table = JobTable(cells.push, _LOG, self._cancel_on)
        self._starter = JobStarter(
            cells.create_on,
            self._node,
            self._table,
            self._roster,
            self.server_site,
            self._cancel_on,
        )
        for topic, handler in {
            Topic.HELLO: self._cmd_hello,
            Topic.START: self._cmd_start,
            Topic.SEND: self._cmd_send,
            Topic.CANCEL: self._cmd_cancel,
            Topic.ATTACH: self._cmd_attach,
            Topic.RETRIEVE: self._cmd_retrieve,
            Topic.JOBS: self._cmd_jobs,
            Topic.SHUTDOWN: self._cmd_shutdown,
        }.items():
            engine.register_app_command(topic, self._guarded(handler))
        cells.take_batches(LinkOrder(self._node.receive))
        engine.register_aux_message_handler(Topic.READY, self._aux_ready)

    def control_flow(self, abort_signal: Signal, fl_ctx: FLContext) -> None:
        """Keep every client serving; ping them; in oneshot mode run the one job."""
        task = Task(name=SERVE_TASK, data=Shareable(), timeout=0, result_received_cb=self._served)
        self.broadcast(task, fl_ctx, targets=self._roster.clients, min_responses=0)
        oneshot = json.loads(base64.b64decode(self.oneshot)) if self.oneshot else None
        started = False
        next_ping = time.monotonic() + self.ping_interval
        while not abort_signal.triggered and not self._stop.is_set():
            if oneshot is not None and not started and self._roster.all_ready():
                started = True
                self._start_oneshot(oneshot)
            if oneshot is not None and started and self._oneshot_over(oneshot["job"]):
                break
            if self._retiring and self._table is not None and not self._table.running():
                break
            if time.monotonic() >= next_ping and self._cells is not None:
                self._roster.ping(self._cells.ping)
                next_ping = time.monotonic() + self.ping_interval
            self._stop.wait(0.05)
        if oneshot is not None and self._table is not None:
            record = self._table.get(oneshot["job"])
            if record is not None and record.status not in ("FINISHED", "ENDED", "RUNNING"):
                self.system_panic(f"DFM job {record.job} {record.status}: {record.errors}", fl_ctx)
        self.cancel_all_tasks(fl_ctx=fl_ctx)

    def stop_controller(self, fl_ctx: FLContext) -> None:
        """Stop the site, the links and the pusher."""
        self._stop.set()
        if self._node is not None:
            self._node.close()
        if self._table is not None:
            self._table.close()
        if self.server_site:
            stop_site_telemetry(_LOG)

    def process_result_of_unknown_task(
        self, client: Any, task_name: str, client_task_id: str, result: Shareable, fl_ctx: FLContext
    ) -> None:
        """Nothing to do: results only end the serve task."""

    def _served(self, client_task: ClientTask, fl_ctx: FLContext) -> None:
        name = client_task.client.name
        if not self._stop.is_set():
            _LOG.warning("Client %s stopped serving DFM", name)
            self._roster.mark_dead(name, f"site {name!r} stopped serving (its DFM executor ended)")

    # -- helpers ------------------------------------------------------------------------
    def _guarded(self, handler: Any) -> Any:
        def run(topic: str, data: Any, fl_ctx: FLContext) -> dict[str, Any]:
            try:
                result: dict[str, Any] = handler(data if isinstance(data, dict) else {}, fl_ctx)
                return result
            except Exception as e:  # an app command never takes the service down
                _LOG.exception("DFM command %s failed", topic)
                return {"ok": False, "error": f"{type(e).__name__}: {e}"}

        return run

    def _local(self, entry: Entry) -> None:
        """An entry for the server itself: job events and everything for the application."""
        assert self._table is not None
        if entry.target == SERVICE and entry.kind == FINAL:
            status, errors = entry.data if isinstance(entry.data, list) else ("FAILED", [])
            self._table.final(entry.job, str(status), list(errors))
            self._forget_later(entry.job)
            return
        if entry.target == SERVICE and entry.kind in (DONE, FAIL):
            self._table.to_app(entry._replace(target=APP))
            return
        self._table.to_app(entry)

    def _forget_later(self, job: str) -> None:
        if self._node is not None:
            self._node.forget(job)

    def _cancel_on(self, job: str, sites: list[str]) -> None:
        """Cancel a failed or aborted job on the sites still running it."""
        assert self._node is not None
        roster = self._roster
        remote = [s for s in sites if s in roster.clients and s not in roster.dead]
        if self.server_site and self.server_site in sites:
            self._node.cancel(job)
        if remote:
            request = Shareable()
            request["job"] = job
            with self._engine.new_context() as fl_ctx:
                self._engine.send_aux_request(
                    targets=remote,
                    topic=Topic.CANCEL,
                    request=request,
                    timeout=5.0,
                    fl_ctx=fl_ctx,
                    optional=True,
                )

    # -- liveness ------------------------------------------------------------------------
    def _client_dead(self, client: str, reason: str) -> None:
        # NVFLARE 2.9 fails the whole job once the restarted client reports that it lacks
        # it: take no new DFM jobs, end when the running ones did (a new service serves).
        self._retiring = True
        _LOG.error("DFM: %s; this service retires", reason)
        if self._table is not None:
            self._table.fail_site(client, reason)

    # -- ready ------------------------------------------------------------------------
    def _aux_ready(self, topic: str, request: Shareable, fl_ctx: FLContext) -> Shareable:
        self._roster.announced(_peer(fl_ctx))
        return make_reply(ReturnCode.OK)

    # -- app commands -------------------------------------------------------------------
    def _cmd_hello(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        return {
            "ok": True,
            "protocol": PROTOCOL_VERSION,
            "federation": self.federation,
            "server_site": self.server_site,
            "clients": self._roster.clients,
            "ready": self._roster.serving(),
            "dead": dict(self._roster.dead),
            "retiring": self._retiring,
            "oneshot": bool(self.oneshot),
            "running": len(self._table.running()) if self._table else 0,
        }

    def _cmd_start(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        if self._retiring:
            return {"ok": False, "retiring": True, "error": "this DFM service is retiring"}
        assert self._starter is not None
        errors = self._starter.start(data)  # the first entries go with the creates
        if errors:
            return {"ok": False, "errors": errors}
        return {"ok": True}

    def _start_oneshot(self, request: dict[str, Any]) -> None:
        assert self._table is not None
        _LOG.info("DFM: starting job %s (per-job mode)", request.get("job"))
        try:
            assert self._starter is not None
            # the first entries after ``started``: it reaches the application first
            errors = self._starter.start(request, with_input=False)
        except Exception as e:
            errors = {"server": f"{type(e).__name__}: {e}"}
        job = str(request["job"])
        if errors:
            record = JobRecord(job, str(request["homesite"]), [], "")
            record.subscriber = request.get("subscriber") or None
            record.status = "FAILED"
            record.errors = [f"{s}: {m}" for s, m in sorted(errors.items())]
            self._table.add(record)
            self._table.event(job, STARTED, errors)
            return
        self._table.event(job, STARTED, None)
        _LOG.info("DFM: job %s started", job)
        self._relay(request.get("entries"))

    def _oneshot_over(self, job: str) -> bool:
        """Whether the one job is over: ended, delivered, and its final status known.

        An application that never reports the final status (it is gone) does not keep
        the NVFLARE job alive: it ends ``ONESHOT_GRACE`` seconds after the job did.
        """
        assert self._table is not None
        record = self._table.get(job)
        if record is None or record.status == "ABORTED":
            return True
        if record.ended is None:
            return False
        if record.extra.get("final") and not record.outbox:
            return True
        return time.time() - record.ended > ONESHOT_GRACE

    def _relay(self, encoded: Any) -> None:
        """Entries from the application (homesite tokens, parameter sets, job events)."""
        if encoded:
            self._from_app(unpack(base64.b64decode(encoded)))

    def _from_app(self, entries: list[Entry]) -> None:
        assert self._node is not None and self._table is not None
        self._table.note_input(entries)
        self._node.receive(entries)

    def _cmd_send(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        link, number = data.get("link"), data.get("number")
        if not isinstance(link, str) or not isinstance(number, int):
            self._relay(data.get("entries"))  # an older application
            return {"ok": True}
        entries = unpack(base64.b64decode(data.get("entries") or b""))
        try:
            self._app_order.receive(link, number, entries)
        except LinkOrderError as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True}

    def _cmd_cancel(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        assert self._table is not None
        record = self._table.cancel(str(data.get("job")))
        if record is None:
            return {"ok": False, "error": "unknown job"}
        self._cancel_on(record.job, sorted(record.remaining))
        return {"ok": True}

    def _cmd_attach(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        assert self._table is not None
        assert self._node is not None
        record = self._table.attach(str(data.get("job")), data.get("subscriber") or None)
        if record is None:
            return {"ok": True, "found": False}
        # Where the application's links of the job are: a new process numbers on from there.
        expected = self._node.reorderer.expected
        links = {t: expected(record.job, APP, t) for t in [*record.sites, SERVICE]}
        return {
            "ok": True,
            "found": True,
            "job": record.summary(),
            "extra": record.extra,
            "links": links,
        }

    def _cmd_retrieve(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        assert self._table is not None
        entries = self._table.retrieve(str(data.get("job")), int(data.get("after", -1)))
        return {"ok": True, "entries": base64.b64encode(pack(entries)).decode("ascii")}

    def _cmd_jobs(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        assert self._table is not None
        return {"ok": True, "jobs": [r.summary() for r in self._table.all()]}

    def _cmd_shutdown(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        if data.get("when_idle"):
            self._retiring = True
        else:
            self._stop.set()
        return {"ok": True}


def _peer(fl_ctx: FLContext) -> str:
    peer = fl_ctx.get_peer_context()
    return str(peer.get_identity_name()) if peer is not None else ""
