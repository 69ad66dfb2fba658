"""Real NVIDIA FLARE POCs (server + north + south), one per test module.

The federation is the meteo example plus a site ``server`` (the NVFLARE server hosts a DFM
site, and its config allows pickle) and two operations to probe the sites' decode
policies (``debug.Describe``, ``debug.MakeSet``). Everything lives in a scratch
directory: workspace, HOME of the NVFLARE commands, generated package; the server's port
is a free one; the POC is always stopped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "meteo"
START_TIMEOUT = 240.0

pytestmark = pytest.mark.flare


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Federation:
    root: Path
    config: Path
    workspace: Path
    port: int


TRUST_ADAPTERS = '''
class Describe:
    """What arrived: its type and sorted items (plain data, whatever it was)."""

    async def body(self, x):
        items = sorted(x) if isinstance(x, (set, frozenset, list, tuple)) else [x]
        return f"{type(x).__name__} {items}"


class MakeSet:
    """A set: only pickle carries it to another site."""

    async def body(self):
        return {3, 1, 2}
'''

_PROBES = {
    "#/operations/debug.Describe": {
        "adapter": "meteo.lib.trust.Describe",
        "args": "from-operation",
        "compute_cost": {"fixed_time": 0.001, "fixed_size": 100},
    },
    "#/operations/debug.MakeSet": {
        "adapter": "meteo.lib.trust.MakeSet",
        "args": "from-operation",
        "compute_cost": {"fixed_time": 0.001, "fixed_size": 100},
    },
}


def _write_config(work: Path) -> Path:
    config = yaml.safe_load((EXAMPLE / "meteo.dfm.yaml").read_text(encoding="utf-8"))
    config["operations"]["debug.Describe"] = {
        "description": "Describe a value of any type",
        "parameters": {"x": {"description": "anything"}},
        "required": ["x"],
        "returns": "string",
    }
    config["operations"]["debug.MakeSet"] = {"description": "A set", "returns": "array"}
    config["sites"]["server"] = {
        "info": {"description": "the NVFLARE server's own DFM site"},
        "allow-pickle": True,
        "interface": {
            "#/operations/stats.Merge": {
                "adapter": "meteo.lib.adapters.Merge",
                "args": "from-operation",
                "compute_cost": {"fixed_time": 5.0, "fixed_size": 200},
            },
            **_PROBES,
        },
        "send_cost": {s: {"fixed_time": 5.0, "bandwidth": 1000} for s in ("app", "north", "south")},
    }
    config["sites"]["north"]["interface"].update(_PROBES)
    (work / "meteo" / "lib" / "trust.py").write_text(TRUST_ADAPTERS, encoding="utf-8")
    path = work / "meteo.dfm.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def running_federation(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    site_environment: Mapping[str, str] | None = None,
) -> Iterator[Federation]:
    """A POC of the test federation, stopped at the end; ``site_environment`` is added
    to the environment of its NVFLARE processes (and so of the DFM sites)."""
    if importlib.util.find_spec("nvflare") is None:
        pytest.skip("nvflare is not installed")
    pytest.importorskip("dfm.targets.flare")
    from dfm.targets.flare._poc import Poc
    from dfm.targets.flare._workspace import Workspace

    # DFM_FLARE_TEST_DIR keeps the POC's files (logs of every site) for a post-mortem.
    keep = os.environ.get("DFM_FLARE_TEST_DIR")
    root = Path(keep) / name if keep else tmp_path_factory.mktemp(name)
    shutil.rmtree(root / "meteo_example", ignore_errors=True)
    work = root / "meteo_example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("fed", "__pycache__"))
    config = _write_config(work)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dfm.api._cli import main; sys.exit(main())",
            "gen",
            str(config),
            "--output",
            str(work),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    ws = Workspace(root / "ws")
    poc = Poc(ws, say=lambda line: print(line, flush=True), site_environment=site_environment)
    port = free_port()
    sys.path.insert(0, str(work))
    for module in [m for m in sys.modules if m == "meteo" or m.startswith("meteo.")]:
        del sys.modules[module]
    try:
        poc.start(config, "app", port, timeout=START_TIMEOUT)
        yield Federation(work, config, ws.root, port)
    finally:
        try:
            poc.stop()
        finally:
            sys.path.remove(str(work))
            for module in [m for m in sys.modules if m == "meteo" or m.startswith("meteo.")]:
                del sys.modules[module]


# Module scope: a POC starts once per module, and the in-process `meteo` package of this
# federation is gone before other test modules generate and import their own `meteo`.
@pytest.fixture(scope="module")
def flare_federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with running_federation(tmp_path_factory, "flare") as federation:
        yield federation


@pytest.fixture(scope="session")
def start_federation() -> Any:
    """:func:`running_federation`, for modules that need a POC of their own."""
    return running_federation
