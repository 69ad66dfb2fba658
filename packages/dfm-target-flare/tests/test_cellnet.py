"""DFM's batches and pushes on NVFLARE core cells: what a receiver refuses, what a sender sees.

A recording stand-in for the cell's ``core_cell`` (its two methods DFM uses); the real
routing, authentication and delivery are covered by the POC suite in tests-integration.
"""

from __future__ import annotations

from typing import Any

import pytest

from dfm.targets.flare._wire import PKG, Entry, pack

pytest.importorskip("nvflare")

from nvflare.fuel.f3.cellnet.defs import MessageHeaderKey, ReturnCode  # noqa: E402
from nvflare.fuel.f3.message import Message  # noqa: E402

from dfm.targets.flare import _cellnet  # noqa: E402
from dfm.targets.flare._sender import Batch  # noqa: E402


class CoreCell:
    """Registers handlers; 'sends' by calling the handler registered for the topic."""

    def __init__(self, origin: str = "north.job1") -> None:
        self.handlers: dict[tuple[str, str], Any] = {}
        self.sent: list[tuple[str, str, Message, float]] = []
        self.origin = origin

    def register_request_cb(self, channel: str, topic: str, cb: Any) -> None:
        self.handlers[(channel, topic)] = cb

    def send_request(
        self, channel: str, topic: str, target: str, request: Message, timeout: float
    ) -> Message | None:
        self.sent.append((target, topic, request, timeout))
        handler = self.handlers.get((channel, topic))
        if handler is None:
            return None
        request.set_header(MessageHeaderKey.ORIGIN, self.origin)
        return handler(request)  # type: ignore[no-any-return]


class Cell:
    def __init__(self, origin: str = "north.job1") -> None:
        self.core_cell = CoreCell(origin)


ENTRY = Entry(PKG, "j", "north", "south", 0, b"{}")


def serve(cell: Cell) -> list[_cellnet.Received]:
    got: list[_cellnet.Received] = []

    def receive(batch: _cellnet.Received) -> str | None:
        got.append(batch)
        return None

    _cellnet.serve_batches(cell, receive)
    return got


def test_a_batch_arrives_with_its_authenticated_sender_link_and_number() -> None:
    cell = Cell(origin="north.job1")
    got = serve(cell)
    assert _cellnet.send_batch(cell, _cellnet.job_cell("south", "job1"), Batch("l1", 3, [ENTRY]))
    assert got == [_cellnet.Received("north", "l1", 3, [ENTRY])]
    target, topic, _, timeout = cell.core_cell.sent[0]
    assert (target, topic, timeout) == ("south.job1", "link", _cellnet.LINK_TIMEOUT)


def request(headers: dict[str, Any], payload: bytes) -> Message:
    message = Message(headers=headers, payload=payload)
    message.set_header(MessageHeaderKey.ORIGIN, "north.job1")
    return message


@pytest.mark.parametrize(
    ("headers", "payload", "says"),
    [
        ({"dfm.link": "l1", "dfm.number": 0}, b"\x00garbage", ""),
        ({"dfm.number": 0}, pack([ENTRY]), "link's id"),
        ({"dfm.link": "x" * 65, "dfm.number": 0}, pack([ENTRY]), "link's id"),
        ({"dfm.link": "l1", "dfm.number": -1}, pack([ENTRY]), "integer >= 0"),
        ({"dfm.link": "l1", "dfm.number": True}, pack([ENTRY]), "integer >= 0"),
        ({"dfm.link": "l1", "dfm.number": "7"}, pack([ENTRY]), "integer >= 0"),
    ],
)
def test_a_malformed_batch_is_refused_before_the_site_sees_it(
    headers: dict[str, Any], payload: bytes, says: str
) -> None:
    cell = Cell()
    got = serve(cell)
    reply = cell.core_cell.handlers[("dfm", "link")](request(headers, payload))
    assert reply.get_header(MessageHeaderKey.RETURN_CODE) == ReturnCode.INVALID_REQUEST
    assert says in str(reply.get_header(MessageHeaderKey.ERROR))
    assert not got


def test_a_refused_batch_is_not_acknowledged() -> None:
    cell = Cell()
    _cellnet.serve_batches(cell, lambda batch: "not a site of this job")
    assert not _cellnet.send_batch(cell, "south.job1", Batch("l1", 0, [ENTRY]))


def test_an_unanswered_batch_or_push_is_a_failure() -> None:
    cell = Cell()  # nothing registered: the request finds no handler
    assert not _cellnet.send_batch(cell, "south.job1", Batch("l1", 0, [ENTRY]))
    assert _cellnet.push(cell, "admin@x", [ENTRY]) is None


def test_a_push_reply_carries_the_receivers_body_and_an_exception_is_an_error_reply() -> None:
    cell = Cell(origin="server.job1")
    seen: list[tuple[str, bytes]] = []

    def receive(sender: str, payload: bytes) -> bytes:
        seen.append((sender, payload))
        if len(seen) > 1:
            raise RuntimeError("boom")
        return b'{"j": 1}'

    _cellnet.serve_pushes(cell, receive)
    assert _cellnet.push(cell, "admin@x", [ENTRY]) == b'{"j": 1}'
    assert seen == [("server", pack([ENTRY]))]
    assert _cellnet.push(cell, "admin@x", [ENTRY]) is None


def test_the_origin_site_is_the_root_of_the_origin_fqcn() -> None:
    assert _cellnet.origin_site(request({}, b"")) == "north"
    assert _cellnet.origin_site(Message()) == ""
    assert _cellnet.job_cell("server", "abc") == "server.abc"


def test_the_application_takes_pushes_only_from_the_server(tmp_path: Any) -> None:
    import logging
    from types import SimpleNamespace

    from dfm.targets.flare._admin import AdminLink

    link = AdminLink("app@x.dfm", tmp_path, logging.getLogger("t"))
    cell = Cell(origin="north.job1")  # a client that routes a 'push' to the app's cell
    link._session = SimpleNamespace(api=SimpleNamespace(cell=cell))
    received: list[bytes] = []
    link.on_push(lambda payload: received.append(payload) or {"j": 0})
    assert _cellnet.push(cell, "admin@x", [ENTRY]) is None
    assert not received
    cell.core_cell.origin = "server.job1"
    assert _cellnet.push(cell, "admin@x", [ENTRY]) == b'{"j": 0}'
    assert received == [pack([ENTRY])]


def test_a_create_request_travels_whole_and_a_refusal_comes_back_as_its_reason() -> None:
    cell = Cell(origin="server.job1")
    got: list[tuple[str, _cellnet.Create]] = []

    def create(sender: str, request: _cellnet.Create) -> str | None:
        got.append((sender, request))
        return "Site 'south' refuses the NetIR" if request.job == "bad" else None

    _cellnet.serve_creates(cell, create)
    trace = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    request = _cellnet.Create("j1", "app", '{"site": "south"}', True, trace, [ENTRY])
    assert _cellnet.send_create(cell, "south.job1", request) is None
    assert got == [("server", request)]
    refused = request._replace(job="bad", trace=None, first=[])
    assert _cellnet.send_create(cell, "south.job1", refused) == "Site 'south' refuses the NetIR"
    assert got[1] == ("server", refused._replace(trace={}))


def test_an_unanswered_create_names_the_site() -> None:
    error = _cellnet.send_create(
        Cell(), "south.job1", _cellnet.Create("j", "a", "", False, None, [])
    )
    assert error == "site 'south' did not answer"


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"", "shorter than its header"),
        ((100).to_bytes(4, "big") + b"[]", "shorter than its header"),
        ((4).to_bytes(4, "big") + b"\xff\xfe{[", "not JSON"),
        ((2).to_bytes(4, "big") + b"{}", "is not [job"),
        ((19).to_bytes(4, "big") + b'[1, "a", "n", false, {}]'[:19], "not JSON"),
        ((24).to_bytes(4, "big") + b'[1, "a", "n", false, {}]', "must be strings"),
        ((26).to_bytes(4, "big") + b'["j", "a", "n", "yes", {}]', "true or false"),
        ((26).to_bytes(4, "big") + b'["j", "a", "n", false, {}]' + b"\xc1", "not a DFM batch"),
    ],
)
def test_a_malformed_create_request_is_refused_before_the_site_sees_it(
    payload: bytes, says: str
) -> None:
    cell = Cell(origin="server.job1")
    got: list[Any] = []
    _cellnet.serve_creates(cell, lambda sender, request: got.append(request))
    reply = cell.core_cell.handlers[("dfm", "create")](request({}, payload))
    assert reply.get_header(MessageHeaderKey.RETURN_CODE) == ReturnCode.INVALID_REQUEST
    assert says in str(reply.get_header(MessageHeaderKey.ERROR)) and not got


def test_an_exception_in_a_handler_is_an_error_reply_not_a_crash() -> None:
    cell = Cell()

    def explode(batch: _cellnet.Received) -> str | None:
        raise RuntimeError("boom")

    _cellnet.serve_batches(cell, explode)
    reply = cell.core_cell.handlers[("dfm", "link")](
        request({"dfm.link": "l1", "dfm.number": 0}, pack([ENTRY]))
    )
    assert reply.get_header(MessageHeaderKey.RETURN_CODE) == ReturnCode.PROCESS_EXCEPTION
    assert "RuntimeError: boom" in str(reply.get_header(MessageHeaderKey.ERROR))


class BroadcastingCoreCell(CoreCell):
    """Answers a broadcast from the handlers of the cells that are 'up'."""

    def __init__(self, up: set[str]) -> None:
        super().__init__()
        self.up = up
        self.timeouts: list[float] = []

    def broadcast_request(
        self, channel: str, topic: str, targets: list[str], request: Message, **kw: Any
    ) -> dict[str, Message]:
        self.timeouts.append(kw["timeout"])
        handler = self.handlers[(channel, topic)]
        return {t: handler(request) for t in targets if t in self.up}


def test_a_ping_names_the_sites_that_answered() -> None:
    cell = Cell()
    cell.core_cell = BroadcastingCoreCell(up={"north.job1"})
    _cellnet.serve_pings(cell)
    targets = {"north": "north.job1", "south": "south.job1"}
    assert _cellnet.ping(cell, targets, timeout=2.0) == {"north"}
    assert cell.core_cell.timeouts == [2.0]


def test_the_roster_counts_missed_pings_until_a_client_is_dead() -> None:
    import logging

    from dfm.targets.flare._roster import ClientRoster

    dead: list[tuple[str, str]] = []
    roster = ClientRoster(lambda c, r: dead.append((c, r)), logging.getLogger("t"), misses=2)
    roster.clients = ["north", "south"]
    roster.announced("north")
    roster.announced("south")
    asked: list[list[str]] = []

    def only_north(clients: list[str], timeout: float) -> set[str]:
        asked.append(clients)
        return {"north"}

    roster.ping(only_north)
    assert not dead
    roster.ping(only_north)
    assert [c for c, _ in dead] == ["south"] and "2 liveness pings" in dead[0][1]
    roster.ping(only_north)  # a dead client is not pinged again
    assert asked == [["north", "south"], ["north", "south"], ["north"]]
