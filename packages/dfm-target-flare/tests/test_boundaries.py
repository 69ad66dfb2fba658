"""What a site and the application refuse, and what they say when NVFLARE refuses."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dfm.targets.flare._wire import PKG, Entry


def test_importing_the_target_does_not_import_nvflare() -> None:
    code = (
        "import sys, dfm.targets.flare as f; "
        "assert f.FlareTarget.default_priority == 0; "
        "print('nvflare' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_entry_point_loads_the_target() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="dfm.targets") if e.name == "flare"]
    assert ep.load().name == "flare"
    commands = {e.name for e in entry_points(group="dfm.cli") if e.value.startswith("dfm.targets")}
    assert commands == {"poc", "provision", "jobs"}


class FakeNode:
    def __init__(self) -> None:
        self.received: list[Entry] = []

    def receive(self, entries: list[Entry]) -> None:
        self.received.extend(entries)


def test_a_client_cannot_send_tokens_in_another_sites_name() -> None:
    pytest.importorskip("nvflare")
    from dfm.targets.flare._cellnet import Received
    from dfm.targets.flare._executor import ServiceExecutor
    from dfm.targets.flare._linkorder import LinkOrder

    executor = ServiceExecutor(server_site="", clients=["north", "south", "east"])
    node = FakeNode()
    executor._node = node  # type: ignore[assignment]
    executor._order = LinkOrder(node.receive)
    forged = Entry(PKG, "j", "south", "east", 0, b"{}")
    honest = Entry(PKG, "j", "north", "east", 0, b"{}")
    assert executor._batch(Received("north", "l1", 0, [forged, honest])) is None
    assert node.received == [honest]
    # the server relays for the application and its own site: it may send any source
    node.received.clear()
    assert executor._batch(Received("server", "l2", 0, [forged, honest])) is None
    assert node.received == [forged, honest]
    # a cell that is neither a client of the job nor the server is refused outright
    node.received.clear()
    assert executor._batch(Received("mallory", "l3", 0, [honest])) is not None
    assert not node.received


def test_the_server_takes_batches_only_from_its_clients_in_their_own_name() -> None:
    pytest.importorskip("nvflare")
    from dfm.targets.flare._cellnet import Received
    from dfm.targets.flare._linkorder import LinkOrder
    from dfm.targets.flare._roster import ClientRoster
    from dfm.targets.flare._servertransport import ServerCells

    log = logging.getLogger("t")
    roster = ClientRoster(lambda c, r: None, log)
    roster.clients = ["north", "south"]
    cells = ServerCells(None, "job1", roster, log)
    node = FakeNode()
    order = LinkOrder(node.receive)
    forged = Entry(PKG, "j", "south", "server", 0, b"{}")
    honest = Entry(PKG, "j", "north", "server", 0, b"{}")
    assert cells._batch(Received("north", "l1", 0, [forged, honest]), order) is None
    assert node.received == [honest]
    assert cells._batch(Received("east", "l1", 0, [honest]), order) is not None
    assert node.received == [honest]
    roster.mark_dead("south", "gone")
    assert not cells.send_link("south", None)  # type: ignore[arg-type]  # never to a dead one


def test_a_site_refuses_a_netir_for_another_site_or_invalid() -> None:
    from dfm.targets.flare._node import SiteNode

    node = SiteNode("north", "north", None, lambda d, e: True, logging.getLogger("t"))
    error = node.create("j", "app", "{not json", False) or ""
    assert error.startswith("Site 'north' refuses the NetIR: it is not a valid NetIR")
    netir = '{"site": "south"}'
    error = node.create("j", "app", netir, False) or ""
    assert error.startswith("Site 'north' refuses the NetIR")
    assert not node.jobs
    node.close()


def test_trace_context_from_a_request_is_checked() -> None:
    from dfm.targets.flare._telemetry import trace_context_from

    header = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    assert trace_context_from(header) == header
    assert trace_context_from({}) is None
    assert trace_context_from(None) is None
    assert trace_context_from(["traceparent"]) is None
    assert trace_context_from({"traceparent": 1}) is None
    assert trace_context_from({"traceparent": "x" * 1000}) is None
    assert trace_context_from({str(i): "v" for i in range(100)}) is None


def test_refused_app_command_names_file_and_key(tmp_path: Path) -> None:
    pytest.importorskip("nvflare")
    from nvflare.fuel.flare_api.api_spec import AuthorizationError

    from dfm.targets.flare._admin import AdminLink, FlareCommandError

    class Refusing:
        def do_app_command(self, *args: Any) -> Any:
            raise AuthorizationError("not authorized for 'app_command'")

    link = AdminLink("app@x.dfm", tmp_path, logging.getLogger("t"), role="lead")
    link._session = Refusing()
    with pytest.raises(FlareCommandError) as raised:
        link.command("job", "dfm.hello", {})
    message = str(raised.value)
    assert "local/authorization.json" in message and "permissions.lead.app_command" in message


def test_ended_service_names_the_allow_list() -> None:
    from dfm.targets.flare._servicejob import _ended_message

    message = _ended_message("j1", "FINISHED:ABNORMAL")
    assert "local/resources.json" in message and "class_allow_list" in message
