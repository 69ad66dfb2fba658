"""The server starts a job: each site's create carries its first input; the reply waits."""

from __future__ import annotations

import base64
import logging
import threading
from contextlib import nullcontext
from typing import Any

import pytest

from dfm.targets.flare._wire import APP, INJECT, Entry, Sequencer, pack, unpack

LOG = logging.getLogger("test-jobstart")


class Engine:
    """The server engine's aux requests, answered like sites would (refusing some)."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.requests: dict[str, Any] = {}
        self.refuse = refuse
        self.lock = threading.Lock()

    def new_context(self) -> Any:
        return nullcontext(None)

    def send_aux_request(self, targets: list[str], topic: str, request: Any, **_: Any) -> Any:
        from nvflare.apis.fl_constant import ReturnCode
        from nvflare.apis.shareable import make_reply

        (site,) = targets
        with self.lock:
            self.requests.setdefault(topic, {})[site] = request
        if site in self.refuse:
            reply = make_reply(ReturnCode.EXECUTION_EXCEPTION)
            reply["error"] = f"Site {site!r} refuses the NetIR"
            return {site: reply}
        return {site: make_reply(ReturnCode.OK)}


def starter(engine: Engine) -> tuple[Any, Any, list[tuple[str, list[str]]]]:
    pytest.importorskip("nvflare")
    from dfm.targets.flare._jobstart import JobStarter
    from dfm.targets.flare._node import SiteNode
    from dfm.targets.flare._roster import ClientRoster
    from dfm.targets.flare._service import JobTable

    cancelled: list[tuple[str, list[str]]] = []
    node = SiteNode("server", None, None, lambda dest, batch: True, LOG)
    table = JobTable(lambda fqcn, entries: {}, LOG, lambda j, s: None)
    roster = ClientRoster(lambda c, r: None, LOG)
    roster.clients = ["north", "south"]
    for client in roster.clients:
        roster.announced(client)
    start = JobStarter(engine, node, table, roster, "", lambda j, s: cancelled.append((j, s)))
    return start, node, cancelled


def request(job: str) -> dict[str, Any]:
    seq = Sequencer()
    frame = [{"token": "@dfm-control-token", "frame": [0]}, {}]
    entries = [seq.entry(INJECT, job, APP, site, [frame]) for site in ("north", "south")]
    return {
        "job": job,
        "homesite": "app",
        "sites": ["app", "north", "south"],
        "netirs": {"north": "{}", "south": "{}"},
        "subscriber": "admin_1",
        "entries": base64.b64encode(pack(entries)).decode("ascii"),
    }


def test_each_create_carries_its_sites_first_input() -> None:
    from dfm.targets.flare._protocol import BATCH_KEY, Topic

    engine = Engine()
    start, node, _ = starter(engine)
    assert start.start(request("j1")) == {}
    creates = engine.requests[Topic.CREATE]
    for site in ("north", "south"):
        (entry,) = unpack(creates[site][BATCH_KEY])
        assert (entry.kind, entry.job, entry.target, entry.seq) == (INJECT, "j1", site, 0)
        # the server's link state moved on: the next input of the link is relayed
        assert node.reorderer.expected("j1", APP, site) == 1
    assert Topic.LINK not in engine.requests  # no second message for the first input
    node.close()


def test_a_refused_create_fails_the_job_and_cancels_the_sites_created() -> None:
    engine = Engine(refuse=frozenset({"south"}))
    start, node, cancelled = starter(engine)
    assert start.start(request("j1")) == {"south": "Site 'south' refuses the NetIR"}
    assert cancelled == [("j1", ["north"])]
    node.close()


def test_unreadable_first_entries_are_refused_before_anything_starts() -> None:
    from dfm.targets.flare._protocol import Topic

    engine = Engine()
    start, node, _ = starter(engine)
    bad = {**request("j1"), "entries": base64.b64encode(b"\xc1 not msgpack").decode()}
    with pytest.raises(ValueError, match="first entries cannot be read"):
        start.start(bad)
    assert Topic.CREATE not in engine.requests and "j1" not in node.jobs
    node.close()


def test_a_site_takes_only_its_own_first_entries_from_a_create() -> None:
    pytest.importorskip("nvflare")
    from dfm.targets.flare._executor import ServiceExecutor
    from dfm.targets.flare._node import SiteNode

    executor = ServiceExecutor(server_site="", clients=["north", "south"])
    executor._node = SiteNode("south", "south", None, lambda dest, batch: True, LOG)
    mine = Entry(INJECT, "j1", APP, "south", 0, [])
    other_site = Entry(INJECT, "j1", APP, "north", 0, [])
    other_job = Entry(INJECT, "j2", APP, "south", 0, [])
    assert executor._first_entries("j1", pack([mine, other_site, other_job])) == [mine]
    assert executor._first_entries("j1", b"\xc1") == []
    executor._node.close()
