"""The server starts a job: each site's create carries its first input; the reply waits."""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

import pytest

from dfm.targets.flare._wire import APP, INJECT, Entry, Sequencer, pack

LOG = logging.getLogger("test-jobstart")


class Sites:
    """The clients' create requests, answered like sites would (refusing some)."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.creates: dict[str, Any] = {}
        self.refuse = refuse
        self.lock = threading.Lock()

    def create_on(self, site: str, create: Any) -> str | None:
        with self.lock:
            self.creates[site] = create
        return f"Site {site!r} refuses the NetIR" if site in self.refuse else None


def starter(
    sites: Sites, batches: list[Any] | None = None
) -> tuple[Any, Any, list[tuple[str, list[str]]]]:
    pytest.importorskip("nvflare")
    from dfm.targets.flare._jobstart import JobStarter
    from dfm.targets.flare._node import SiteNode
    from dfm.targets.flare._roster import ClientRoster
    from dfm.targets.flare._service import JobTable

    cancelled: list[tuple[str, list[str]]] = []
    sent = batches if batches is not None else []
    node = SiteNode("server", None, None, lambda dest, batch: sent.append(batch) or True, LOG)
    table = JobTable(lambda fqcn, entries: {}, LOG, lambda j, s: None)
    roster = ClientRoster(lambda c, r: None, LOG)
    roster.clients = ["north", "south"]
    for client in roster.clients:
        roster.announced(client)
    start = JobStarter(
        sites.create_on, node, table, roster, "", lambda j, s: cancelled.append((j, s))
    )
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
    sites = Sites()
    batches: list[Any] = []
    start, node, _ = starter(sites, batches)
    assert start.start(request("j1")) == {}
    for site in ("north", "south"):
        (entry,) = sites.creates[site].first
        assert (entry.kind, entry.job, entry.target, entry.seq) == (INJECT, "j1", site, 0)
        # the server's link state moved on: the next input of the link is relayed
        assert node.reorderer.expected("j1", APP, site) == 1
    assert not batches  # no second message for the first input
    node.close()


def test_a_refused_create_fails_the_job_and_cancels_the_sites_created() -> None:
    start, node, cancelled = starter(Sites(refuse=frozenset({"south"})))
    assert start.start(request("j1")) == {"south": "Site 'south' refuses the NetIR"}
    assert cancelled == [("j1", ["north"])]
    node.close()


def test_unreadable_first_entries_are_refused_before_anything_starts() -> None:
    sites = Sites()
    start, node, _ = starter(sites)
    bad = {**request("j1"), "entries": base64.b64encode(b"\xc1 not msgpack").decode()}
    with pytest.raises(ValueError, match="first entries cannot be read"):
        start.start(bad)
    assert not sites.creates and "j1" not in node.jobs
    node.close()


class CreatingNode:
    site = "south"

    def __init__(self) -> None:
        self.created: list[tuple[Any, ...]] = []

    def create(self, *args: Any) -> str | None:
        self.created.append(args)
        return None


def test_a_site_takes_only_its_own_first_entries_and_only_from_the_server() -> None:
    pytest.importorskip("nvflare")
    from dfm.targets.flare._cellnet import Create
    from dfm.targets.flare._executor import ServiceExecutor

    executor = ServiceExecutor(server_site="", clients=["north", "south"])
    node = CreatingNode()
    executor._node = node  # type: ignore[assignment]
    mine = Entry(INJECT, "j1", APP, "south", 0, [])
    other_site = Entry(INJECT, "j1", APP, "north", 0, [])
    other_job = Entry(INJECT, "j2", APP, "south", 0, [])
    create = Create("j1", "app", "{}", False, None, [mine, other_site, other_job])
    assert executor._create("server", create) is None
    assert node.created == [("j1", "app", "{}", False, None, [mine])]
    # another client cannot start jobs on this site
    assert "only the server" in (executor._create("north", create) or "")
    assert len(node.created) == 1
