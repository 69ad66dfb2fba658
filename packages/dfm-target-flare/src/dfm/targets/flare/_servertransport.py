"""How the server's DFM service sends over NVFLARE: batches to clients, pushes to the app.

Both are blocking calls made on the sender's own threads (a link's or the pusher's), so
several may be in flight at once.
"""

from __future__ import annotations

import json
from typing import Any

from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.shareable import Shareable
from nvflare.fuel.f3.cellnet.defs import MessageHeaderKey
from nvflare.fuel.f3.cellnet.defs import ReturnCode as CellReturnCode
from nvflare.fuel.f3.message import Message

from ._protocol import APP_CHANNEL, APP_PUSH_TOPIC, BATCH_KEY, LINK_KEY, NUMBER_KEY, Topic
from ._sender import Batch
from ._wire import Entry, pack

LINK_TIMEOUT = 10.0
"""Seconds a client may take to acknowledge a batch."""
PUSH_TIMEOUT = 5.0
"""Seconds the application may take to acknowledge a push."""


def send_link(engine: Any, destination: str, batch: Batch) -> bool:
    """Send a batch to a client by aux request; True once it acknowledged."""
    request = Shareable()
    request[BATCH_KEY] = pack(batch.entries)
    request[LINK_KEY], request[NUMBER_KEY] = batch.link, batch.number
    with engine.new_context() as fl_ctx:
        replies = engine.send_aux_request(
            targets=[destination],
            topic=Topic.LINK,
            request=request,
            timeout=LINK_TIMEOUT,
            fl_ctx=fl_ctx,
        )
    reply = replies.get(destination) if replies else None
    return reply is not None and reply.get_return_code() == ReturnCode.OK


def push_to_app(engine: Any, fqcn: str, entries: list[Entry]) -> dict[str, int] | None:
    """Push entries to an application cell; its acknowledged sequence number by job.

    None if the push failed (no reply, an error reply, or a reply that is not acks).
    """
    reply = engine.get_cell().send_request(
        channel=APP_CHANNEL,
        topic=APP_PUSH_TOPIC,
        target=fqcn,
        request=Message(payload=pack(entries)),
        timeout=PUSH_TIMEOUT,
    )
    if reply is None or reply.get_header(MessageHeaderKey.RETURN_CODE) != CellReturnCode.OK:
        return None
    try:
        acks = json.loads(bytes(reply.payload))
        return {str(k): int(v) for k, v in acks.items()}
    except Exception:
        return None
