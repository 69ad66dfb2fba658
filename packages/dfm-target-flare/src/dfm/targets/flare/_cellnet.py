"""DFM's frequent messages on NVFLARE's core cells: batches, pushes, creates, pings.

NVFLARE 2.9's ``Cell`` sends a request on any channel but a few system ones (aux messages
included) as a byte stream: the request in chunks with flow-control acks, the reply as a
second, *reliable* stream, and on the requester one ``threading.Timer`` thread per reply
that lives 65 s to clean it up. Measured on a POC of this machine: 14–21 ms one way per
message, and the server job at 1,600 threads after 40 s of warm jobs (rate × 65 s, so a
busy service holds thousands). The core cell under it sends a request as one frame and
its reply as one frame, over the same connections and routes, with the same security:
the authentication headers are added by the core cell's outgoing filters, and the server
validates them, binding each client's token to its origin, on every message that crosses
from one client to another (NVFLARE marks those ``SERVER_TRANSIT_REQUIRED``). So the
origin's site name, which the receivers check entries against, is the authenticated one.

Batches of a sender's link carry its id and number in headers; the payload is the packed
entries (:mod:`._wire`), at most a few MiB (:data:`._sender.MAX_BATCH_BYTES`), well
inside one frame. A create request (a job's NetIR for one site and its first entries) is
on the start's critical path, so it comes here too, and so do the server's liveness
pings (every client, every second); the rare control messages (cancel, ready) stay
NVFLARE aux requests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from nvflare.fuel.f3.cellnet.defs import MessageHeaderKey, ReturnCode
from nvflare.fuel.f3.cellnet.fqcn import FQCN
from nvflare.fuel.f3.cellnet.utils import make_reply
from nvflare.fuel.f3.message import Message

from ._sender import Batch
from ._wire import Entry, pack, unpack

_LOG = logging.getLogger("dfm.targets.flare.cellnet")

CHANNEL = "dfm"
"""The cell channel of DFM's messages (topics below)."""
SERVER_ROOT = FQCN.ROOT_SERVER
"""The root of every server cell's FQCN (``server``, ``server.<job>``)."""
LINK_TOPIC = "link"
PUSH_TOPIC = "push"
CREATE_TOPIC = "create"
PING_TOPIC = "ping"
LINK_TIMEOUT = 10.0
"""Seconds a site may take to acknowledge a batch."""
PUSH_TIMEOUT = 5.0
"""Seconds the application may take to acknowledge a push."""
CREATE_TIMEOUT = 60.0
"""Seconds a site may take to build a job's runner (it generates the site's code)."""
_LINK_HEADER = "dfm.link"
_NUMBER_HEADER = "dfm.number"


class Received(NamedTuple):
    """A batch as it arrived: who sent it (its authenticated site), on which link, which."""

    sender: str
    link: str
    number: int
    entries: list[Entry]


class Create(NamedTuple):
    """What the server asks a site to run: one DFM job's NetIR, and its first entries."""

    job: str
    homesite: str
    netir: str
    force: bool
    trace: Any
    """The W3C trace context (checked by the site: :func:`._telemetry.trace_context_from`)."""
    first: list[Entry]


def job_cell(site: str, job_id: str) -> str:
    """The FQCN of a site's cell in an NVFLARE job (``server.<job>``, ``<client>.<job>``)."""
    return str(FQCN.join([site, job_id]))


def send_batch(cell: Any, target: str, batch: Batch, timeout: float = LINK_TIMEOUT) -> bool:
    """Send a link's batch to the job cell ``target``; True once it acknowledged."""
    request = Message(
        headers={_LINK_HEADER: batch.link, _NUMBER_HEADER: batch.number},
        payload=pack(batch.entries),
    )
    return _ok(_send(cell, target, LINK_TOPIC, request, timeout)) is not None


def serve_batches(cell: Any, receive: Callable[[Received], str | None]) -> None:
    """Answer batches sent to this cell: ``receive`` returns None (taken) or why it was not.

    A batch that does not decode is refused without calling ``receive``.
    """

    def handle(request: Message) -> Message:
        try:
            received = Received(
                sender=origin_site(request),
                link=_link(request.get_header(_LINK_HEADER)),
                number=_number(request.get_header(_NUMBER_HEADER)),
                entries=unpack(bytes(request.payload or b"")),
            )
        except ValueError as e:
            return make_reply(ReturnCode.INVALID_REQUEST, error=str(e))
        return _answer(receive, received)

    cell.core_cell.register_request_cb(channel=CHANNEL, topic=LINK_TOPIC, cb=handle)


def push(
    cell: Any, target: str, entries: list[Entry], timeout: float = PUSH_TIMEOUT
) -> bytes | None:
    """Push entries to the application cell ``target``; its reply body, None on failure."""
    reply = _ok(_send(cell, target, PUSH_TOPIC, Message(payload=pack(entries)), timeout))
    return None if reply is None else bytes(reply.payload or b"")


def serve_pushes(cell: Any, receive: Callable[[str, bytes], bytes]) -> None:
    """Answer pushes to this cell: ``receive(sender site, payload)`` gives the reply body.

    An exception in ``receive`` becomes an error reply (the pusher sends again later).
    """

    def handle(request: Message) -> Message:
        try:
            body = receive(origin_site(request), bytes(request.payload or b""))
        except Exception as e:  # the receiver logged it; the pusher sends again later
            return make_reply(ReturnCode.PROCESS_EXCEPTION, error=f"{type(e).__name__}: {e}")
        return make_reply(ReturnCode.OK, body=body)

    cell.core_cell.register_request_cb(channel=CHANNEL, topic=PUSH_TOPIC, cb=handle)


def send_create(cell: Any, target: str, create: Create) -> str | None:
    """Ask the job cell ``target`` to create a job's runner: None once it did, else why not."""
    meta = json.dumps(
        [create.job, create.homesite, create.netir, create.force, create.trace or {}]
    ).encode("utf-8")
    payload = len(meta).to_bytes(4, "big") + meta + pack(create.first)
    reply = _send(cell, target, CREATE_TOPIC, Message(payload=payload), CREATE_TIMEOUT)
    if reply is None:
        return f"site {FQCN.get_root(target)!r} did not answer"
    code = reply.get_header(MessageHeaderKey.RETURN_CODE)
    if code != ReturnCode.OK:
        return str(reply.get_header(MessageHeaderKey.ERROR) or code)
    return None


def serve_creates(cell: Any, create: Callable[[str, Create], str | None]) -> None:
    """Answer create requests: ``create(sender site, request)`` gives None or why not.

    A request that does not decode is refused without calling ``create``.
    """

    def handle(request: Message) -> Message:
        try:
            decoded = _create_of(bytes(request.payload or b""))
        except ValueError as e:
            return make_reply(ReturnCode.INVALID_REQUEST, error=f"a bad create request: {e}")
        return _answer(create, origin_site(request), decoded)

    cell.core_cell.register_request_cb(channel=CHANNEL, topic=CREATE_TOPIC, cb=handle)


def _create_of(payload: bytes) -> Create:
    size = int.from_bytes(payload[:4], "big")
    if len(payload) < 4 + size:
        raise ValueError("it is shorter than its header says")
    try:
        meta = json.loads(payload[4 : 4 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"its header is not JSON ({e})") from None
    if not isinstance(meta, list) or len(meta) != 5:
        raise ValueError("its header is not [job, homesite, netir, force, trace]")
    job, homesite, netir, force, trace = meta
    if not (isinstance(job, str) and isinstance(homesite, str) and isinstance(netir, str)):
        raise ValueError("its job, homesite and NetIR must be strings")
    if not isinstance(force, bool):
        raise ValueError("its force flag must be true or false")
    return Create(job, homesite, netir, force, trace, unpack(payload[4 + size :]))


def ping(cell: Any, targets: dict[str, str], timeout: float) -> set[str]:
    """Which of ``targets`` (site -> job cell) answered a ping within ``timeout`` s."""
    replies = cell.core_cell.broadcast_request(
        channel=CHANNEL,
        topic=PING_TOPIC,
        targets=list(targets.values()),
        request=Message(),
        timeout=timeout,
        optional=True,  # an unreachable client is an answer here, not an error to log
    )
    return {site for site, fqcn in targets.items() if _ok((replies or {}).get(fqcn)) is not None}


def serve_pings(cell: Any) -> None:
    """Answer pings: this site's job process is alive."""
    cell.core_cell.register_request_cb(
        channel=CHANNEL, topic=PING_TOPIC, cb=lambda request: make_reply(ReturnCode.OK)
    )


def origin_site(message: Message) -> str:
    """The site a message comes from: the root of its (authenticated) origin FQCN."""
    origin = message.get_header(MessageHeaderKey.ORIGIN)
    return str(FQCN.get_root(origin)) if isinstance(origin, str) and origin else ""


def _answer(handler: Callable[..., str | None], *args: Any) -> Message:
    """The reply to a request ``handler`` took (None) or refused (why); never an exception."""
    try:
        error = handler(*args)
    except Exception as e:  # a site's failure never reaches NVFLARE
        _LOG.exception("DFM: handling a request failed")
        error = f"{type(e).__name__}: {e}"
    if error is not None:
        return make_reply(ReturnCode.PROCESS_EXCEPTION, error=error)
    return make_reply(ReturnCode.OK)


def _link(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ValueError(f"a batch needs its link's id (1-64 characters), not {value!r}")
    return value


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a batch number must be an integer >= 0, not {value!r}")
    return value


def _send(cell: Any, target: str, topic: str, request: Message, timeout: float) -> Any:
    return cell.core_cell.send_request(
        channel=CHANNEL, topic=topic, target=target, request=request, timeout=timeout
    )


def _ok(reply: Any) -> Message | None:
    if reply is None or reply.get_header(MessageHeaderKey.RETURN_CODE) != ReturnCode.OK:
        return None
    return reply
