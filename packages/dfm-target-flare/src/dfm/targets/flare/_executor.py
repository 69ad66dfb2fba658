"""ServiceExecutor: the NVFLARE client side of DFM (runs in a client's job process).

Imported only by NVFLARE (the class path is in the job's ``config_fed_client.json``).
It executes the task ``dfm.serve`` for as long as the service runs: it tells the server
it is ready (the readiness handshake: no DFM job is sent to a client before that), then
serves aux messages: ``dfm.create`` (build a job's runner from its NetIR and hand it its
first parameter sets), ``dfm.link`` (batches of tokens and parameter sets),
``dfm.cancel`` and ``dfm.ping``. Nothing a site does can end the task with an exception:
an error is a DFM status, never an NVFLARE one. The site decodes under its own policy
(its generated runtime package) and switches telemetry on when its environment asks
(``DFM_TELEMETRY``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nvflare.apis.event_type import EventType
from nvflare.apis.executor import Executor
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.apis.signal import Signal

from . import _stages
from ._linkorder import LinkOrder, LinkOrderError
from ._node import SERVER, SiteNode
from ._protocol import BATCH_KEY, LINK_KEY, NUMBER_KEY, SERVE_TASK, Topic
from ._sender import Batch
from ._telemetry import start_site_telemetry, stop_site_telemetry, trace_context_from
from ._wire import Entry, pack, unpack

_LOG = logging.getLogger("dfm.targets.flare.client")


class ServiceExecutor(Executor):  # type: ignore[misc]  # NVFLARE is untyped
    """A DFM site on an NVFLARE client.

    Args:
        server_site: The DFM site hosted by the NVFLARE server ("" if none).
        clients: The job's clients (they may only send entries of their own site).
        federation: The federation package; the site refuses another one's NetIR ("":
            not checked, a service job of an older DFM).
    """

    def __init__(
        self, server_site: str = "", clients: list[str] | None = None, federation: str = ""
    ) -> None:
        """Nothing runs before the job starts."""
        super().__init__()
        self.server_site = server_site
        self.clients = list(clients or [])
        self.federation = federation
        self._engine: Any = None
        self._node: SiteNode | None = None
        self._order: LinkOrder | None = None

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        """Set up at START_RUN, tear down at END_RUN."""
        try:
            if event_type == EventType.START_RUN:
                self._setup(fl_ctx)
            elif event_type == EventType.END_RUN and self._node is not None:
                self._node.close()
                stop_site_telemetry(_LOG)
        except Exception:
            _LOG.exception("DFM executor: handling %s failed", event_type)

    def _setup(self, fl_ctx: FLContext) -> None:
        engine = fl_ctx.get_engine()
        self._engine = engine
        me = fl_ctx.get_identity_name()
        start_site_telemetry(me, _LOG)
        self._node = SiteNode(
            me,
            me,
            self.server_site or None,
            self._send_link,
            _LOG,
            federation=self.federation or None,
        )
        self._order = LinkOrder(self._node.receive)
        engine.register_aux_message_handler(Topic.LINK, self._guard(self._aux_link))
        engine.register_aux_message_handler(Topic.CREATE, self._guard(self._aux_create))
        engine.register_aux_message_handler(Topic.CANCEL, self._guard(self._aux_cancel))
        engine.register_aux_message_handler(Topic.PING, self._aux_ping)

    def execute(
        self, task_name: str, shareable: Shareable, fl_ctx: FLContext, abort_signal: Signal
    ) -> Shareable:
        """Serve until the service ends; announce readiness first."""
        if task_name != SERVE_TASK:
            return make_reply(ReturnCode.TASK_UNKNOWN)
        try:
            announced = False
            while not abort_signal.triggered:
                if not announced:
                    announced = self._announce(fl_ctx)
                    if not announced:
                        time.sleep(0.2)
                        continue
                time.sleep(0.2)
        except Exception:
            _LOG.exception("DFM executor: serving failed")
        return make_reply(ReturnCode.OK)

    def _announce(self, fl_ctx: FLContext) -> bool:
        replies = self._engine.send_aux_request(
            targets=[SERVER], topic=Topic.READY, request=Shareable(), timeout=5.0, fl_ctx=fl_ctx
        )
        reply = replies.get(SERVER) if replies else None
        return reply is not None and reply.get_return_code() == ReturnCode.OK

    def _guard(self, handler: Any) -> Any:
        def run(topic: str, request: Shareable, fl_ctx: FLContext) -> Shareable:
            try:
                result: Shareable = handler(request, fl_ctx)
                return result
            except Exception as e:  # a site's failure never reaches NVFLARE
                _LOG.exception("DFM executor: %s failed", topic)
                reply = make_reply(ReturnCode.EXECUTION_EXCEPTION)
                reply["error"] = f"{type(e).__name__}: {e}"
                return reply

        return run

    def _send_link(self, destination: str, batch: Batch) -> bool:
        request = Shareable()
        request[BATCH_KEY] = pack(batch.entries)
        request[LINK_KEY], request[NUMBER_KEY] = batch.link, batch.number
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

    def _aux_link(self, request: Shareable, fl_ctx: FLContext) -> Shareable:
        assert self._node is not None
        peer = fl_ctx.get_peer_context()
        sender = str(peer.get_identity_name()) if peer is not None else ""
        try:
            entries = unpack(request.get(BATCH_KEY, b""))
        except ValueError as e:
            _LOG.error("Bad batch from %s: %s", sender, e)
            return make_reply(ReturnCode.BAD_REQUEST_DATA)
        if _stages.ENABLED:
            _stages.stamp("recv", entries)
        if sender in self.clients:  # another client speaks only for its own site
            forged = [e for e in entries if e.source != sender]
            if forged:
                _LOG.error("Dropped %d entries from %s: not its own", len(forged), sender)
                entries = [e for e in entries if e.source == sender]
        link, number = request.get(LINK_KEY), request.get(NUMBER_KEY)
        if not isinstance(link, str) or not isinstance(number, int):
            self._node.receive(entries)  # an older sender: one batch in flight
            return make_reply(ReturnCode.OK)
        assert self._order is not None
        try:
            self._order.receive(f"{sender}/{link}", number, entries)
        except LinkOrderError as e:
            _LOG.error("Bad batch from %s: %s", sender, e)
            return make_reply(ReturnCode.BAD_REQUEST_DATA)
        return make_reply(ReturnCode.OK)

    def _aux_create(self, request: Shareable, fl_ctx: FLContext) -> Shareable:
        assert self._node is not None
        job = str(request.get("job"))
        first = self._first_entries(job, request.get(BATCH_KEY))
        error = self._node.create(
            job,
            str(request.get("homesite")),
            str(request.get("netir")),
            bool(request.get("force", False)),
            trace_context_from(request.get("trace")),
            first,
        )
        if error is None:
            return make_reply(ReturnCode.OK)
        reply = make_reply(ReturnCode.EXECUTION_EXCEPTION)
        reply["error"] = error
        return reply

    def _first_entries(self, job: str, packed: Any) -> list[Entry]:
        """The job's first entries for this site, from its create request (checked)."""
        if not packed:
            return []
        assert self._node is not None
        try:
            entries = unpack(packed)
        except ValueError as e:
            _LOG.error("Job %s: bad first entries in its create request: %s", job, e)
            return []
        if _stages.ENABLED:
            _stages.stamp("recv", entries)
        kept = [e for e in entries if e.job == job and e.target == self._node.site]
        if len(kept) < len(entries):
            _LOG.error(
                "Job %s: dropped %d first entries for another job or site",
                job,
                len(entries) - len(kept),
            )
        return kept

    def _aux_cancel(self, request: Shareable, fl_ctx: FLContext) -> Shareable:
        assert self._node is not None
        self._node.cancel(str(request.get("job")))
        return make_reply(ReturnCode.OK)

    def _aux_ping(self, topic: str, request: Shareable, fl_ctx: FLContext) -> Shareable:
        return make_reply(ReturnCode.OK)
