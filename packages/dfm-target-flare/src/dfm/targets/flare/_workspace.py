"""A DFM FLARE workspace: where ``dfm poc``/``dfm provision`` keep a federation's files.

Everything ``dfm poc`` writes lives under the workspace directory:

* ``dfm-flare.json``: what the application needs (federation, homesite, admin kit, sites);
* ``poc/``: NVFLARE's POC workspace (``NVFLARE_POC_WORKSPACE``), startup kits included;
* ``home/``: the ``HOME`` of every NVFLARE command DFM runs (NVFLARE writes
  ``~/.nvflare/config.conf``; it stays in here);
* ``logs/poc.log``: the output of the POC processes;
* ``jobs/``: NVFLARE job folders DFM exported for submission.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

WORKSPACE_ENV = "DFM_FLARE_WORKSPACE"
"""The environment variable naming the default workspace."""

DEFAULT_WORKSPACE = ".dfm-flare"
"""The workspace used when neither ``--workspace`` nor :data:`WORKSPACE_ENV` is given."""

STATE_FILE = "dfm-flare.json"


class WorkspaceError(RuntimeError):
    """The workspace is missing, or does not hold what the caller needs."""


def resolve_workspace(workspace: str | os.PathLike[str] | None) -> Path:
    """The workspace directory: the argument, else ``$DFM_FLARE_WORKSPACE``, else ``.dfm-flare``."""
    chosen = workspace or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
    return Path(chosen).expanduser().resolve()


@dataclass
class FederationState:
    """What a workspace records about its federation (``dfm-flare.json``).

    Attributes:
        kind: ``poc`` (made by ``dfm poc prepare``) or ``provisioned``.
        federation: The federation package (``code-package``).
        homesite: The application's site.
        config: The federation config it was derived from.
        project: The NVFLARE project name.
        server_site: The DFM site that is the NVFLARE server, or None (a relay server).
        clients: The DFM sites that are NVFLARE clients.
        admin: The homesite's NVFLARE admin user.
        admin_kit: The admin user's startup kit.
        port: The server's port.
        python_path: Directories the sites need on ``sys.path`` (the federation package).
        launcher_pgid: The process group of the running ``nvflare poc start`` (POC only).
    """

    kind: str
    federation: str
    homesite: str
    config: str
    project: str
    server_site: str | None
    clients: list[str]
    admin: str
    admin_kit: str
    port: int
    python_path: list[str] = field(default_factory=list)
    launcher_pgid: int | None = None

    @property
    def sites(self) -> list[str]:
        """Every DFM site the federation has on NVFLARE (server site first)."""
        return ([self.server_site] if self.server_site else []) + list(self.clients)


class Workspace:
    """One workspace directory and the paths in it.

    Args:
        root: The workspace directory (need not exist yet).
    """

    def __init__(self, root: Path) -> None:
        """Name the directory."""
        self.root = root

    @classmethod
    def resolve(cls, workspace: str | os.PathLike[str] | None) -> Workspace:
        """The workspace named by the argument, ``$DFM_FLARE_WORKSPACE`` or the default."""
        return cls(resolve_workspace(workspace))

    @property
    def state_file(self) -> Path:
        """``dfm-flare.json``."""
        return self.root / STATE_FILE

    @property
    def poc_dir(self) -> Path:
        """NVFLARE's POC workspace."""
        return self.root / "poc"

    @property
    def home(self) -> Path:
        """The HOME of the NVFLARE commands DFM runs."""
        return self.root / "home"

    @property
    def log_file(self) -> Path:
        """The POC processes' output."""
        return self.root / "logs" / "poc.log"

    @property
    def jobs_dir(self) -> Path:
        """Exported NVFLARE job folders."""
        return self.root / "jobs"

    def has_state(self) -> bool:
        """Whether ``dfm-flare.json`` exists."""
        return self.state_file.is_file()

    def load(self) -> FederationState:
        """Read ``dfm-flare.json``.

        Raises:
            WorkspaceError: It does not exist or cannot be read, with the command that makes it.
        """
        if not self.state_file.is_file():
            raise WorkspaceError(
                f"No DFM FLARE workspace at {self.root} (no {STATE_FILE}). Start a POC "
                f"federation with `dfm poc start CONFIG --homesite NAME --workspace {self.root}`, "
                f"or point {WORKSPACE_ENV} (or workspace=...) at the output of `dfm provision`"
            )
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
            known = {f.name for f in fields(FederationState)}
            return FederationState(**{k: v for k, v in data.items() if k in known})
        except (OSError, ValueError, TypeError) as e:
            raise WorkspaceError(
                f"{self.state_file} is damaged ({e}); run `dfm poc prepare` again"
            ) from e

    def save(self, state: FederationState) -> None:
        """Write ``dfm-flare.json`` (atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.state_file)

    def nvflare_env(self, state: FederationState | None = None) -> dict[str, str]:
        """The environment for NVFLARE commands: HOME and the POC workspace confined here.

        The sites run ``python3`` from ``PATH``: this interpreter's directory comes first,
        so they run in this environment, and ``PYTHONPATH`` holds the federation package.
        """
        import sys

        env = dict(os.environ)
        self.home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(self.home)
        env["NVFLARE_POC_WORKSPACE"] = str(self.poc_dir)
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        if state is not None and state.python_path:
            current = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*state.python_path, *current]))
        env.pop("PYTHONHOME", None)
        return env
