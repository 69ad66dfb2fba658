"""`dfm provision`: real NVFLARE provisioning, with DFM's policies and a README per kit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfm.targets.flare._cli import provision_command
from dfm.targets.flare._workspace import Workspace

CONFIG = """\
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: greetfed}
operations:
  users.Greet:
    parameters: {name: {type: string}}
    required: [name]
    returns: string
sites:
  concierge:
    interface:
      "#/operations/users.Greet": {adapter: greetfed_adapters.Greet, args: from-operation}
  server:
    interface:
      "#/operations/users.Greet": {adapter: greetfed_adapters.Greet, args: from-operation}
  reception:
    interface:
      "#/operations/users.Greet": {adapter: greetfed_adapters.Greet, args: from-operation}
"""


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nvflare")
    root = tmp_path_factory.mktemp("provision")
    (root / "greetfed.dfm.yaml").write_text(CONFIG)
    code = provision_command(
        [
            str(root / "greetfed.dfm.yaml"),
            "--homesite",
            "concierge",
            "--output",
            str(root / "kits"),
            "--server-host",
            "fl.example.org",
            "--port",
            "9443",
        ]
    )
    assert code == 0
    return root / "kits"


def test_a_kit_per_participant_with_a_readme(kits: Path) -> None:
    names = sorted(p.name for p in kits.iterdir() if p.is_dir())
    assert names == ["admin@greetfed.dfm", "concierge@greetfed.dfm", "reception", "server"]
    for name in names:
        assert (kits / name / "README.md").is_file()
    readme = (kits / "reception" / "README.md").read_text()
    assert "pip install dfm-target-flare==" in readme and "nvflare==2.9.0" in readme
    assert "startup/start.sh" in readme and "fl.example.org:9443" in readme


def test_site_policies(kits: Path) -> None:
    for site in ("server", "reception"):
        resources = json.loads((kits / site / "local" / "resources.json").read_text())
        assert "dfm.targets.flare." in resources["class_allow_list"]
        assert len(resources["class_allow_list"]) > 10  # the NVFLARE defaults are kept
    server = json.loads((kits / "server" / "local" / "resources.json").read_text())
    assert "components" in server  # the server's own settings are kept
    authz = json.loads((kits / "server" / "local" / "authorization.json").read_text())
    assert authz["permissions"]["lead"]["app_command"] == "n:submitter"


def test_the_application_finds_its_kit(kits: Path) -> None:
    state = Workspace(kits).load()
    assert state.kind == "provisioned" and state.homesite == "concierge"
    assert state.server_site == "server" and state.clients == ["reception"]
    assert Path(state.admin_kit, "startup", "fed_admin.json").is_file()
    admin = json.loads(Path(state.admin_kit, "startup", "fed_admin.json").read_text())
    assert admin["admin"]["host"] == "fl.example.org" and admin["admin"]["port"] == 9443


def test_unknown_homesite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.dfm.yaml").write_text(CONFIG)
    code = provision_command(
        [str(tmp_path / "c.dfm.yaml"), "--homesite", "lobby", "--output", str(tmp_path / "k")]
    )
    assert code == 1
    assert "'lobby' is not a site" in capsys.readouterr().err
