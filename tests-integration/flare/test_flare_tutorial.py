"""The tutorial federation (nv-dfm-core's examplefed) on a real POC, driven as a user would.

Its config names a site ``server`` (the NVFLARE server hosts a DFM site), a client
``reception`` and the homesite ``concierge``; the adapters are ours. Everything goes
through the ``dfm`` command line and an application script in its own process: ``dfm
gen``, ``dfm poc start``, the application on ``target="flare"`` with one operation on
each site, ``dfm jobs``, ``dfm poc stop``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = (
    Path(__file__).resolve().parents[2]
    / "packages/dfm-modgen/tests/data/fixtures/examplefed/federation.dfm.yaml"
)

pytestmark = pytest.mark.flare

ADAPTERS = """
class GreetMe:
    def __init__(self, site=None, provider=None):
        self.site = site

    async def body(self, name: str, greet_fmt: str) -> str:
        return greet_fmt.format(name=name)


class GreetMeReception:
    def __init__(self, site=None, provider=None):
        self.site = site

    def body(self, name: str, venue: str) -> str:
        return f"Good day, {name}. Welcome to {venue}."
"""

APP = """
import json
from dfm.api import Pipeline, PlaceParam, Yield
from dfm.session import Session
from examplefed.fed.api.users import GreetMe

with Pipeline(name="greet") as pipeline:
    for site in ("concierge", "server", "reception"):
        name = PlaceParam(place="name", multiuse=True)
        Yield(value=GreetMe(name=name, site=site), place=site)
got = {}
with Session("examplefed", "concierge", target="flare") as session:
    job = session.execute(
        session.prepare(pipeline),
        {"name": "Ada"},
        # every place also ends with its StopToken
        default_callback=lambda site, node, frame, place, value: (
            isinstance(value, str) and got.update({place: value})
        ),
    )
    assert job.wait_until_finished(60), "the job did not finish"
    print(json.dumps({"job": job.job_id, "status": job.get_status().name, "got": got}))
"""


def dfm(*args: str, cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dfm.api._cli import main; sys.exit(main())",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"dfm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_tutorial_federation_runs_on_every_kind_of_site(tmp_path: Path) -> None:
    if importlib.util.find_spec("nvflare") is None:
        pytest.skip("nvflare is not installed")
    shutil.copy(CONFIG, tmp_path / "examplefed.dfm.yaml")
    lib = tmp_path / "examplefed" / "lib"
    lib.mkdir(parents=True)
    (tmp_path / "examplefed" / "__init__.py").write_text("")
    (lib / "__init__.py").write_text("")
    (lib / "customer_service.py").write_text(ADAPTERS)
    (tmp_path / "app.py").write_text(APP)
    workspace = tmp_path / "ws"
    env = {**os.environ, "DFM_FLARE_WORKSPACE": str(workspace), "PYTHONPATH": str(tmp_path)}
    dfm("gen", "examplefed.dfm.yaml", "--output", ".", cwd=tmp_path, env=env, timeout=120)
    start = ("examplefed.dfm.yaml", "--homesite", "concierge")
    try:
        out = dfm(
            "poc", "start", *start, "--port", str(free_port()), cwd=tmp_path, env=env, timeout=300
        )
        assert "ready: DFM service job" in out and "no connection" not in out, out
        app = subprocess.run(
            [sys.executable, "app.py"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert app.returncode == 0, app.stderr
        result = json.loads(app.stdout.strip().splitlines()[-1])
        assert result["status"] == "FINISHED"
        assert result["got"] == {
            "concierge": "Hello from the local app, Ada! How are you?",
            "server": "Hello from the server, Ada! How are you?",
            "reception": "Good day, Ada. Welcome to examplefed.",
        }
        listed = dfm("jobs", "--json", cwd=tmp_path, env=env, timeout=60)
        assert result["job"] in listed and "FINISHED" in listed, listed
    finally:
        dfm("poc", "stop", *start, cwd=tmp_path, env=env, timeout=120)
