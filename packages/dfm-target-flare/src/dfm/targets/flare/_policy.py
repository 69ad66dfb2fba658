"""Site policies DFM needs in NVFLARE startup kits (``local/*.json`` of each participant).

* every server and client: ``local/resources.json`` ``class_allow_list`` gets the prefix
  ``dfm.targets.flare.`` (NVFLARE 2.9 builds only allow-listed component classes); the
  file *replaces* ``resources.json.default``, so it starts as a copy of it;
* the server: ``local/authorization.json`` grants the homesite's admin role
  ``app_command`` (the right DFM's service commands need) for jobs it submitted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._project import ADMIN_ROLE, ALLOW_PREFIX, APP_COMMAND_RIGHT


def _load(local: Path, name: str) -> dict[str, Any]:
    for candidate in (local / name, local / f"{name}.default"):
        if candidate.is_file():
            data: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return data
    raise FileNotFoundError(f"{local} has neither {name} nor {name}.default")


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")


def allow_dfm_components(kit: Path) -> Path:
    """Add DFM's prefix to a participant's ``class_allow_list``; the file written."""
    local = kit / "local"
    resources = _load(local, "resources.json")
    allowed = list(resources.get("class_allow_list", []))
    if ALLOW_PREFIX not in allowed:
        allowed.append(ALLOW_PREFIX)
    resources["class_allow_list"] = allowed
    resources.setdefault("class_list_enforcement_mode", "enforce")
    path = local / "resources.json"
    _write(path, resources)
    return path


def grant_app_commands(server_kit: Path, role: str = ADMIN_ROLE) -> Path:
    """Let ``role`` use app commands on the jobs its users submitted; the file written."""
    local = server_kit / "local"
    authorization = _load(local, "authorization.json")
    permissions = authorization.setdefault("permissions", {})
    rights = permissions.get(role)
    if rights != "any":
        rights = dict(rights or {})
        rights[APP_COMMAND_RIGHT] = "n:submitter"
        rights.setdefault("submit_job", "any")
        permissions[role] = rights
    path = local / "authorization.json"
    _write(path, authorization)
    return path


def apply_policies(prod_dir: Path, server: str, clients: list[str]) -> list[Path]:
    """Apply DFM's policies to the kits of a provisioned project; the files written."""
    written = [allow_dfm_components(prod_dir / server), grant_app_commands(prod_dir / server)]
    written += [allow_dfm_components(prod_dir / c) for c in clients]
    return written
