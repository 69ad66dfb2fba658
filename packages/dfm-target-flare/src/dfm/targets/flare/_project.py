"""From a federation config to an NVFLARE project: who is server, client and admin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_SITE = "server"
"""The DFM site that is the NVFLARE server unless the config's ``provision`` names another."""

ALLOW_PREFIX = "dfm.targets.flare."
"""The ``class_allow_list`` entry every site needs: DFM's controller and executor."""

ADMIN_ROLE = "lead"
"""The role of the homesite's admin user (may submit jobs; DFM grants it ``app_command``)."""

APP_COMMAND_RIGHT = "app_command"
"""The NVFLARE right DFM's service commands need (``local/authorization.json`` of the server)."""

RELAY_SERVER = "server"
"""The NVFLARE server participant's name when no DFM site is the server."""


@dataclass(frozen=True)
class Topology:
    """How a federation maps onto NVFLARE participants.

    Attributes:
        federation: The federation package.
        homesite: The application's site (an NVFLARE admin user, not a participant).
        server_site: The DFM site that runs in the NVFLARE server, or None: a relay.
        clients: The DFM sites that are NVFLARE clients, in config order.
        project: The NVFLARE project name.
    """

    federation: str
    homesite: str
    server_site: str | None
    clients: tuple[str, ...]
    project: str

    @property
    def server_name(self) -> str:
        """The NVFLARE server participant's name."""
        return self.server_site or RELAY_SERVER

    @property
    def admin(self) -> str:
        """The homesite's admin user (NVFLARE wants an e-mail address)."""
        return f"{self.homesite}@{_domain(self.federation)}"

    @property
    def project_admin(self) -> str:
        """The federation operator (NVFLARE requires exactly one project admin)."""
        return f"admin@{_domain(self.federation)}"

    @property
    def sites(self) -> tuple[str, ...]:
        """Every DFM site that is an NVFLARE participant (server site first)."""
        return ((self.server_site,) if self.server_site else ()) + self.clients


def _domain(federation: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", federation).strip("-").lower() + ".dfm"


def topology_from_config(config: Any, homesite: str) -> Topology:
    """The topology of a loaded federation config (a ``dfm.modgen`` ``FederationConfig``).

    Raises:
        ValueError: The homesite is not a site of the config, or the named server is not.
    """
    sites = list(config.site_ids())
    if homesite not in sites:
        raise ValueError(
            f"--homesite {homesite!r} is not a site of federation {config.code_package!r} "
            f"(sites: {', '.join(sites)})"
        )
    named = getattr(config.provision, "server", None) if config.provision else None
    server = named or (SERVER_SITE if SERVER_SITE in sites else None)
    if named and named not in sites:
        raise ValueError(
            f"provision.server names {named!r}, which is not a site of the federation "
            f"(sites: {', '.join(sites)})"
        )
    if server == homesite:
        raise ValueError(
            f"The homesite {homesite!r} cannot also be the NVFLARE server: the application "
            "is an admin client of the federation"
        )
    clients = tuple(s for s in sites if s not in (homesite, server))
    if not clients:
        raise ValueError(
            "An NVFLARE federation needs at least one client site besides the homesite "
            f"and the server; federation {config.code_package!r} has none"
        )
    return Topology(config.code_package, homesite, server, clients, config.code_package)


def load_topology(config_path: str | Path, homesite: str) -> tuple[Any, Topology]:
    """Load a ``.dfm.yaml`` and work out its topology.

    Raises:
        ValueError: The config is invalid (with every issue) or the homesite is unknown.
    """
    from dfm.modgen import ConfigError, load_federation_config

    path = Path(config_path)
    if not path.is_file():
        raise ValueError(f"Federation config {str(path)!r} does not exist")
    try:
        config = load_federation_config(path)
    except ConfigError as e:
        raise ValueError(str(e)) from e
    return config, topology_from_config(config, homesite)


def project_dict(
    topology: Topology,
    *,
    port: int,
    host: str = "localhost",
    org: str = "dfm",
) -> dict[str, Any]:
    """An NVFLARE ``project.yml`` (api_version 3) for the topology.

    Args:
        topology: The federation's participants.
        port: The server's single port (FL and admin traffic, NVFLARE 2.9).
        host: The server's host name the clients and admins connect to.
        org: The organisation of every participant.
    """
    server: dict[str, Any] = {
        "name": topology.server_name,
        "type": "server",
        "org": org,
        "fed_learn_port": port,
    }
    if host != topology.server_name:
        server["default_host"] = host
    participants: list[dict[str, Any]] = [server]
    participants += [{"name": c, "type": "client", "org": org} for c in topology.clients]
    participants += [
        {"name": topology.project_admin, "type": "admin", "org": org, "role": "project_admin"},
        {"name": topology.admin, "type": "admin", "org": org, "role": ADMIN_ROLE},
    ]
    return {
        "api_version": 3,
        "name": topology.project,
        "description": f"DFM federation {topology.federation}",
        "participants": participants,
        "builders": [
            {
                "path": "nvflare.lighter.impl.workspace.WorkspaceBuilder",
                "args": {"template_file": ["master_template.yml"]},
            },
            {
                "path": "nvflare.lighter.impl.static_file.StaticFileBuilder",
                "args": {"config_folder": "config", "scheme": "http"},
            },
            {"path": "nvflare.lighter.impl.cert.CertBuilder"},
            {"path": "nvflare.lighter.impl.signature.SignatureBuilder"},
        ],
    }
