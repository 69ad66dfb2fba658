"""The DFM target on NVIDIA FLARE 2.9: the same pipelines on a real distributed federation.

Selected with ``Session(..., target="flare")``. The sites are NVFLARE participants (the
site named ``server`` is the NVFLARE server, the others clients), the application is an
NVFLARE admin client, and the homesite's operations run in the application's process.
``dfm poc start CONFIG --homesite NAME`` runs a whole federation on this machine;
``dfm provision`` writes startup kits for real machines. Importing this package does not
import NVFLARE.
"""

from ._job import FlareJob
from ._target import FlareTarget
from ._workspace import WORKSPACE_ENV, FederationState, Workspace, WorkspaceError

__all__ = [
    "WORKSPACE_ENV",
    "FederationState",
    "FlareJob",
    "FlareTarget",
    "Workspace",
    "WorkspaceError",
]
