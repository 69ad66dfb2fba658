"""NVFLARE job folders for DFM: the service job and per-job-mode jobs.

A job folder carries configuration only (JSON): DFM and the federation package are
installed on every site, and the component classes are in each site's
``class_allow_list`` (``dfm.targets.flare.``), so the job is not a BYOC job.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

CONTROLLER = "dfm.targets.flare._controller.ServiceController"
EXECUTOR = "dfm.targets.flare._executor.ServiceExecutor"


def write_job(
    directory: Path,
    name: str,
    clients: list[str],
    controller_args: dict[str, Any],
    server_site: str | None,
) -> Path:
    """Write an NVFLARE job folder (replacing one of the same name) and return it."""
    if directory.exists():
        shutil.rmtree(directory)
    server_app = directory / "app_server" / "config"
    client_app = directory / "app_client" / "config"
    server_app.mkdir(parents=True)
    client_app.mkdir(parents=True)
    meta = {
        "name": name,
        "resource_spec": {},
        "min_clients": len(clients),
        "mandatory_clients": clients,
        "deploy_map": {"app_server": ["server"], "app_client": clients},
    }
    server_config = {
        "format_version": 2,
        "workflows": [{"id": "dfm", "path": CONTROLLER, "args": controller_args}],
        "components": [],
    }
    client_config = {
        "format_version": 2,
        "executors": [
            {
                "tasks": ["dfm.serve"],
                "executor": {
                    "path": EXECUTOR,
                    "args": {
                        "server_site": server_site or "",
                        "clients": clients,
                        "federation": str(controller_args.get("federation", "")),
                    },
                },
            }
        ],
        "components": [],
    }
    _dump(directory / "meta.json", meta)
    _dump(server_app / "config_fed_server.json", server_config)
    _dump(client_app / "config_fed_client.json", client_config)
    return directory


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
