"""Topology, project.yml, site policies, and the commands' argument errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dfm.targets.flare._cli import jobs_command, poc_command, provision_command
from dfm.targets.flare._policy import allow_dfm_components, grant_app_commands
from dfm.targets.flare._project import ALLOW_PREFIX, project_dict, topology_from_config
from dfm.targets.flare._workspace import Workspace, WorkspaceError


def config(*sites: str, server: str | None = None) -> Any:
    return SimpleNamespace(
        code_package="fed_x",
        provision=SimpleNamespace(server=server) if server else None,
        site_ids=lambda: {s: s for s in sites},
    )


def test_site_named_server_is_the_nvflare_server() -> None:
    topo = topology_from_config(config("app", "server", "north"), "app")
    assert topo.server_site == "server" and topo.clients == ("north",)
    assert topo.admin == "app@fed-x.dfm"


def test_no_server_site_means_a_relay_server() -> None:
    topo = topology_from_config(config("app", "north", "south"), "app")
    assert topo.server_site is None and topo.server_name == "server"
    assert topo.clients == ("north", "south")


def test_provision_section_names_the_server() -> None:
    topo = topology_from_config(config("app", "hub", "north"), "app")
    assert topo.server_site is None
    topo = topology_from_config(config("app", "hub", "north", server="hub"), "app")
    assert topo.server_site == "hub" and topo.server_name == "hub"


@pytest.mark.parametrize(
    ("sites", "homesite", "message"),
    [
        (("app", "north"), "nowhere", "not a site"),
        (("app", "server"), "app", "at least one client"),
        (("server", "north"), "server", "cannot also be the NVFLARE server"),
    ],
)
def test_bad_topologies(sites: tuple[str, ...], homesite: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        topology_from_config(config(*sites), homesite)


def test_project_has_one_project_admin_and_the_homesite_as_lead() -> None:
    project = project_dict(topology_from_config(config("app", "north"), "app"), port=9000)
    roles = {p["name"]: p.get("role") for p in project["participants"] if p["type"] == "admin"}
    assert sorted(roles.values()) == ["lead", "project_admin"]
    server = next(p for p in project["participants"] if p["type"] == "server")
    assert server["fed_learn_port"] == 9000


def test_policies_keep_the_defaults_and_add_dfm(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "resources.json.default").write_text(
        json.dumps({"format_version": 2, "class_allow_list": ["nvflare.x.Y"], "components": []})
    )
    (local / "authorization.json.default").write_text(
        json.dumps({"permissions": {"lead": {"submit_job": "any"}, "project_admin": "any"}})
    )
    resources = json.loads(allow_dfm_components(tmp_path).read_text())
    assert resources["class_allow_list"] == ["nvflare.x.Y", ALLOW_PREFIX]
    assert resources["components"] == []
    allow_dfm_components(tmp_path)  # idempotent
    assert (
        json.loads((local / "resources.json").read_text())["class_allow_list"].count(ALLOW_PREFIX)
        == 1
    )
    authz = json.loads(grant_app_commands(tmp_path).read_text())
    assert authz["permissions"]["lead"]["app_command"] == "n:submitter"
    assert authz["permissions"]["project_admin"] == "any"


def test_unknown_workspace_names_the_command_that_makes_it(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="dfm poc start CONFIG --homesite NAME"):
        Workspace(tmp_path / "nothing").load()


def test_commands_reject_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert poc_command(["start"]) == 2
    assert (
        poc_command(
            [
                "start",
                str(tmp_path / "missing.yaml"),
                "--homesite",
                "app",
                "--workspace",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        poc_command(["status", "x.yaml", "--homesite", "app", "--workspace", str(tmp_path / "ws")])
        == 1
    )
    assert "dfm poc start" in capsys.readouterr().err
    assert provision_command(["cfg.yaml"]) == 2
    assert jobs_command(["show"]) == 1
    assert "needs a job id" in capsys.readouterr().err
    assert jobs_command(["--workspace", str(tmp_path / "ws")]) == 1
    assert "dfm poc start" in capsys.readouterr().err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (poc_command, provision_command, jobs_command):
        assert command(["--help"]) == 0
    assert "127.0.0.1" in capsys.readouterr().out


def test_a_real_config_can_name_the_server(tmp_path: Path) -> None:
    from dfm.targets.flare._project import load_topology

    config = tmp_path / "hub.dfm.yaml"
    config.write_text(
        "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: hubfed}\nprovision: {server: hub}\n"
        "operations: {}\nsites: {app: {}, hub: {}, north: {}}\n"
    )
    _, topo = load_topology(config, "app")
    assert topo.server_site == "hub" and topo.clients == ("north",)


SUPERVISOR = """#!/usr/bin/env bash
start_fl() { echo started >> "$WORKSPACE/starts"; touch "$WORKSPACE/pid.fl"; }
while true
do
  sleep 5
  if [[ ! -f "$WORKSPACE/pid.fl" ]]; then
    start_fl
  fi
done
"""


def test_poc_supervisors_start_at_once_and_keep_their_5s_tick(tmp_path: Path) -> None:
    import subprocess

    from dfm.targets.flare._pocprocess import start_at_once

    for name in ("server", "north"):
        (tmp_path / name / "startup").mkdir(parents=True)
        (tmp_path / name / "startup" / "sub_start.sh").write_text(SUPERVISOR)
    (tmp_path / "odd" / "startup").mkdir(parents=True)
    (tmp_path / "odd" / "startup" / "sub_start.sh").write_text("while true; do sleep 5; done\n")
    assert start_at_once(tmp_path) == 2
    assert start_at_once(tmp_path) == 0  # a patched script (or another shape) is left alone
    assert (tmp_path / "odd" / "startup" / "sub_start.sh").read_text().count("sleep 5") == 1
    script = tmp_path / "server" / "startup" / "sub_start.sh"
    assert script.read_text().count("sleep 5") == 1  # still the 5 s tick after the first
    supervisor = subprocess.Popen(["bash", str(script)], env={"WORKSPACE": str(tmp_path)})
    try:  # unpatched, nothing would start for 5 s
        for _ in range(40):
            if (tmp_path / "starts").is_file():
                break
            time.sleep(0.05)
        assert (tmp_path / "starts").read_text() == "started\n"
    finally:
        supervisor.kill()
        supervisor.wait()
