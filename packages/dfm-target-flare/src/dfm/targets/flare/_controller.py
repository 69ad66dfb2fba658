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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nvflare.apis.controller_spec import ClientTask, Task
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.impl.controller import Controller
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.apis.signal import Signal
from nvflare.fuel.f3.cellnet.defs import MessageHeaderKey
from nvflare.fuel.f3.cellnet.defs import ReturnCode as CellReturnCode
from nvflare.fuel.f3.message import Message

from ._node import SERVER, SERVICE, SiteNode
from ._protocol import (
    APP_CHANNEL,
    APP_PUSH_TOPIC,
    BATCH_KEY,
    PROTOCOL_VERSION,
    SERVE_TASK,
    Topic,
)
from ._service import JobRecord, JobTable
from ._telemetry import start_site_telemetry, stop_site_telemetry, trace_context_from
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
        self._clients: list[str] = []
        self._ready: dict[str, float] = {}
        self._dead: dict[str, str] = {}
        self._missed: dict[str, int] = {}
        self._stop = threading.Event()
        self._retiring = False
        self._node: SiteNode | None = None
        self._table: JobTable | None = None
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="dfm-create")

    # -- NVFLARE lifecycle ---------------------------------------------------------------
    def start_controller(self, fl_ctx: FLContext) -> None:
        """Register the app commands and aux handlers; start the site and the outbox."""
        engine = fl_ctx.get_engine()
        self._engine = engine
        self._clients = sorted(c.name for c in engine.get_clients())
        if self.server_site:
            start_site_telemetry(self.server_site, _LOG)
        self._node = SiteNode(
            SERVER,
            self.server_site or None,
            self.server_site or None,
            self._send_link,
            _LOG,
            local=self._local,
            federation=self.federation or None,
        )
        self._table = JobTable(self._push, _LOG, self._cancel_on)
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
        engine.register_aux_message_handler(Topic.LINK, self._aux_link)
        engine.register_aux_message_handler(Topic.READY, self._aux_ready)

    def control_flow(self, abort_signal: Signal, fl_ctx: FLContext) -> None:
        """Keep every client serving; ping them; in oneshot mode run the one job."""
        task = Task(name=SERVE_TASK, data=Shareable(), timeout=0, result_received_cb=self._served)
        self.broadcast(task, fl_ctx, targets=self._clients, min_responses=0)
        oneshot = json.loads(base64.b64decode(self.oneshot)) if self.oneshot else None
        started = False
        next_ping = time.monotonic() + self.ping_interval
        while not abort_signal.triggered and not self._stop.is_set():
            if oneshot is not None and not started and self._all_ready():
                started = True
                self._start_oneshot(oneshot)
            if oneshot is not None and started and self._oneshot_over(oneshot["job"]):
                break
            if self._retiring and self._table is not None and not self._table.running():
                break
            if time.monotonic() >= next_ping:
                self._ping(fl_ctx)
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
            self._client_dead(name, f"site {name!r} stopped serving (its DFM executor ended)")

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

    def _all_ready(self) -> bool:
        return all(c in self._ready for c in self._clients)

    def _send_link(self, destination: str, entries: list[Entry]) -> bool:
        """Send a batch to a client by aux request; True once it acknowledged."""
        if destination in self._dead:
            return False
        request = Shareable()
        request[BATCH_KEY] = pack(entries)
        with self._engine.new_context() as fl_ctx:
            replies = self._engine.send_aux_request(
                targets=[destination],
                topic=Topic.LINK,
                request=request,
                timeout=10.0,
                fl_ctx=fl_ctx,
            )
        reply = replies.get(destination) if replies else None
        return reply is not None and reply.get_return_code() == ReturnCode.OK

    def _push(self, fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
        """Push entries to an application cell; the acknowledged sequence numbers."""
        cell = self._engine.get_cell()
        reply = cell.send_request(
            channel=APP_CHANNEL,
            topic=APP_PUSH_TOPIC,
            target=fqcn,
            request=Message(payload=pack(entries)),
            timeout=5.0,
        )
        if reply is None or reply.get_header(MessageHeaderKey.RETURN_CODE) != CellReturnCode.OK:
            return None
        try:
            acks = json.loads(bytes(reply.payload))
            return {str(k): int(v) for k, v in acks.items()}
        except Exception:
            return None

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
        remote = [s for s in sites if s in self._clients and s not in self._dead]
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
    def _ping(self, fl_ctx: FLContext) -> None:
        alive = [c for c in self._clients if c in self._ready and c not in self._dead]
        if not alive:
            return
        replies = self._engine.send_aux_request(
            targets=alive,
            topic=Topic.PING,
            request=Shareable(),
            timeout=self.ping_timeout,
            fl_ctx=fl_ctx,
            optional=True,
        )
        for client in alive:
            reply = replies.get(client) if replies else None
            if reply is not None and reply.get_return_code() == ReturnCode.OK:
                self._missed[client] = 0
                continue
            self._missed[client] = self._missed.get(client, 0) + 1
            if self._missed[client] >= self.misses:
                self._client_dead(
                    client,
                    f"site {client!r} stopped responding (no answer to "
                    f"{self._missed[client]} liveness pings)",
                )

    def _client_dead(self, client: str, reason: str) -> None:
        if client in self._dead:
            return
        self._dead[client] = reason
        # NVFLARE 2.9 fails the whole job once the restarted client reports that it lacks
        # it: take no new DFM jobs, end when the running ones did (a new service serves).
        self._retiring = True
        _LOG.error("DFM: %s; this service retires", reason)
        if self._table is not None:
            self._table.fail_site(client, reason)

    # -- ready ------------------------------------------------------------------------
    def _aux_ready(self, topic: str, request: Shareable, fl_ctx: FLContext) -> Shareable:
        peer = _peer(fl_ctx)
        if peer in self._clients:
            _LOG.info("DFM: site %s is ready", peer)
            self._ready[peer] = time.time()
            self._dead.pop(peer, None)
            self._missed[peer] = 0
        return make_reply(ReturnCode.OK)

    def _aux_link(self, topic: str, request: Shareable, fl_ctx: FLContext) -> Shareable:
        peer = _peer(fl_ctx)
        try:
            entries = unpack(request.get(BATCH_KEY, b""))
        except ValueError as e:
            _LOG.error("Bad batch from %s: %s", peer, e)
            return make_reply(ReturnCode.BAD_REQUEST_DATA)
        forged = [e for e in entries if e.source != peer]
        if forged:  # a client speaks only for its own site
            _LOG.error("Dropped %d entries from %s claiming another source", len(forged), peer)
            entries = [e for e in entries if e.source == peer]
        assert self._node is not None
        self._node.receive(entries)
        return make_reply(ReturnCode.OK)

    # -- app commands -------------------------------------------------------------------
    def _cmd_hello(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        return {
            "ok": True,
            "protocol": PROTOCOL_VERSION,
            "federation": self.federation,
            "server_site": self.server_site,
            "clients": self._clients,
            "ready": sorted(c for c in self._ready if c not in self._dead),
            "dead": dict(self._dead),
            "retiring": self._retiring,
            "oneshot": bool(self.oneshot),
            "running": len(self._table.running()) if self._table else 0,
        }

    def _start(self, request: dict[str, Any]) -> dict[str, str]:
        """Create the job on every remote site, then feed them; errors by site."""
        assert self._node is not None and self._table is not None
        job = str(request["job"])
        homesite = str(request["homesite"])
        netirs: dict[str, str] = dict(request["netirs"])
        force = bool(request.get("force_modgen", False))
        trace = trace_context_from(request.get("trace_context"))
        errors: dict[str, str] = {}
        unknown = [s for s in netirs if s != self.server_site and s not in self._clients]
        for site in unknown:
            errors[site] = f"site {site!r} is not part of this FLARE federation"
        for site in netirs:
            if site in self._dead:
                errors[site] = f"site {site!r} is not available: {self._dead[site]}"
            elif site in self._clients and site not in self._ready:
                errors[site] = f"site {site!r} has not joined the DFM service yet"
        if errors:
            return errors
        self._node.register(job, homesite)
        sites = sorted(set(request.get("sites") or []) | set(netirs))
        record = JobRecord(job, homesite, sites, str(request.get("pipeline", "")))
        record.subscriber = request.get("subscriber") or None
        if isinstance(request.get("prepared"), str):  # for handles of other processes
            record.extra["prepared"] = request["prepared"]
        self._table.add(record)
        created: list[str] = []
        remote = {s: n for s, n in netirs.items() if s != self.server_site}
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
        if self.server_site and self.server_site in netirs:
            error = self._node.create(job, homesite, netirs[self.server_site], force, trace)
            if error:
                errors[self.server_site] = error
            else:
                created.append(self.server_site)
        if errors:
            self._table.remove(job)
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

    def _cmd_start(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        if self._retiring:
            return {"ok": False, "retiring": True, "error": "this DFM service is retiring"}
        errors = self._start(data)
        if errors:
            return {"ok": False, "errors": errors}
        self._relay(data.get("entries"))
        return {"ok": True}

    def _start_oneshot(self, request: dict[str, Any]) -> None:
        assert self._table is not None
        _LOG.info("DFM: starting job %s (per-job mode)", request.get("job"))
        try:
            errors = self._start(request)
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
        if not encoded:
            return
        assert self._node is not None and self._table is not None
        entries = unpack(base64.b64decode(encoded))
        self._table.note_input(entries)
        self._node.receive(entries)

    def _cmd_send(self, data: dict[str, Any], fl_ctx: FLContext) -> dict[str, Any]:
        self._relay(data.get("entries"))
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
