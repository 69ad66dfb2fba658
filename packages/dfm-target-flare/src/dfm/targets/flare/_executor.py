"""ServiceExecutor: the NVFLARE client side of DFM (runs in a client's job process).

Imported only by NVFLARE (the class path is in the job's ``config_fed_client.json``).
It executes the task ``dfm.serve`` for as long as the service runs: it tells the server
it is ready (the readiness handshake: no DFM job is sent to a client before that), then
serves, on DFM's core-cell channel (:mod:`._cellnet`), create requests (build a job's
runner from its NetIR and hand it its first parameter sets), batches of tokens and
parameter sets and the server's liveness pings, and the aux message ``dfm.cancel``.
Nothing a site does can end the task with an exception: an error is a DFM status, never
an NVFLARE one. The site decodes under its own policy (its generated runtime package) and
switches telemetry on when its environment asks (``DFM_TELEMETRY``).
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
from ._cellnet import (
    Create,
    Received,
    job_cell,
    send_batch,
    serve_batches,
    serve_creates,
    serve_pings,
)
from ._linkorder import LinkOrder, LinkOrderError
from ._node import SERVER, SiteNode
from ._protocol import SERVE_TASK, Topic
from ._sender import Batch
from ._telemetry import start_site_telemetry, stop_site_telemetry, trace_context_from

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
        self._job_id = ""

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
        self._job_id = str(fl_ctx.get_job_id())
        serve_batches(engine.get_cell(), self._batch)
        serve_creates(engine.get_cell(), self._create)
        serve_pings(engine.get_cell())
        engine.register_aux_message_handler(Topic.CANCEL, self._guard(self._aux_cancel))

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
        cell = job_cell(destination, self._job_id)
        return send_batch(self._engine.get_cell(), cell, batch)

    def _batch(self, batch: Received) -> str | None:
        """A batch from the server or another client (see :func:`._cellnet.serve_batches`)."""
        assert self._order is not None
        sender, entries = batch.sender, batch.entries
        if _stages.ENABLED:
            _stages.stamp("recv", entries)
        if sender in self.clients:  # another client speaks only for its own site
            forged = [e for e in entries if e.source != sender]
            if forged:
                _LOG.error("Dropped %d entries from %s: not its own", len(forged), sender)
                entries = [e for e in entries if e.source == sender]
        elif sender != SERVER:
            _LOG.error("Dropped a batch from %r: not a site of this job", sender)
            return f"{sender!r} is not a site of this job"
        try:
            self._order.receive(f"{sender}/{batch.link}", batch.number, entries)
        except LinkOrderError as e:
            _LOG.error("Bad batch from %s: %s", sender, e)
            return str(e)
        return None

    def _create(self, sender: str, create: Create) -> str | None:
        """The server's create request (see :func:`._cellnet.serve_creates`)."""
        assert self._node is not None
        if sender != SERVER:
            _LOG.error("Refused a create request from %r: only the server creates jobs", sender)
            return f"a create request from {sender!r}: only the server creates jobs"
        if _stages.ENABLED:
            _stages.stamp("recv", create.first)
        first = [e for e in create.first if e.job == create.job and e.target == self._node.site]
        if len(first) < len(create.first):
            _LOG.error(
                "Job %s: dropped %d first entries for another job or site",
                create.job,
                len(create.first) - len(first),
            )
        trace = trace_context_from(create.trace)
        return self._node.create(
            create.job, create.homesite, create.netir, create.force, trace, first
        )

    def _aux_cancel(self, request: Shareable, fl_ctx: FLContext) -> Shareable:
        assert self._node is not None
        self._node.cancel(str(request.get("job")))
        return make_reply(ReturnCode.OK)
