"""The ``dfm poc``, ``dfm provision`` and ``dfm jobs`` commands (``dfm.cli`` entry points)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ._workspace import WORKSPACE_ENV, Workspace, WorkspaceError

_WS_HELP = f"the DFM FLARE workspace (default: ${WORKSPACE_ENV}, else ./.dfm-flare)"


def _error(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


def poc_command(argv: list[str]) -> int:
    """Run an NVIDIA FLARE POC federation on 127.0.0.1 (prepare, start, status, logs, stop)."""
    parser = argparse.ArgumentParser(
        prog="dfm poc",
        description="A whole NVIDIA FLARE federation on this machine (127.0.0.1), derived "
        "from a federation config: the site 'server' (if any) is the NVFLARE server, the "
        "other sites but the homesite are clients, the homesite is the application (an admin "
        "client). Everything is written under the workspace.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    helps = {
        "prepare": "provision the POC (startup kits, DFM's site policies)",
        "start": "start it (preparing if needed); returns when every client serves DFM",
        "status": "show what runs (exit 0 if ready, 3 otherwise)",
        "logs": "print the POC's logs",
        "stop": "stop everything start started",
    }
    for action, text in helps.items():
        p = sub.add_parser(action, help=text, description=text)
        p.add_argument("config", type=Path, help="the federation config (.dfm.yaml)")
        p.add_argument("--homesite", required=True, help="the site the application runs at")
        p.add_argument("--workspace", default=None, help=_WS_HELP)
        if action in ("prepare", "start"):
            p.add_argument(
                "--port", type=int, default=None, help="the server's port (default 8002)"
            )
        if action == "start":
            p.add_argument(
                "--timeout",
                type=float,
                default=120.0,
                help="seconds to wait until ready (default 120)",
            )
        if action == "logs":
            p.add_argument(
                "--lines", type=int, default=60, help="lines of each log file (default 60; 0: all)"
            )
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from ._poc import Poc, PocError

    ws = Workspace.resolve(args.workspace)
    poc = Poc(ws)
    config: Path = args.config
    try:
        if args.action in ("prepare", "start") and not config.is_file():
            return _error("dfm poc", f"federation config {str(config)!r} does not exist")
        if args.action == "prepare":
            poc.prepare(config, args.homesite, args.port)
        elif args.action == "start":
            started = time.monotonic()
            poc.start(config, args.homesite, args.port, args.timeout)
            print(
                f"POC ready in {time.monotonic() - started:.1f}s; use it with "
                f'Session(..., target="flare") and {WORKSPACE_ENV}={ws.root}'
            )
        elif args.action == "status":
            return 0 if poc.status() else 3
        elif args.action == "logs":
            for path in poc.log_files():
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                shown = lines if args.lines == 0 else lines[-args.lines :]
                print(f"==> {path} <==")
                print("\n".join(shown))
        elif args.action == "stop":
            poc.stop()
    except (PocError, WorkspaceError, ValueError, RuntimeError) as e:
        return _error("dfm poc", str(e))
    return 0


def provision_command(argv: list[str]) -> int:
    """Write NVIDIA FLARE startup kits for a federation's real machines."""
    parser = argparse.ArgumentParser(
        prog="dfm provision",
        description="Write NVIDIA FLARE startup kits for a federation config: one per site "
        "(the NVFLARE server and clients) and one for the homesite's application, with the "
        "site policies DFM needs and a README per kit saying what to install and how to start.",
    )
    parser.add_argument("config", type=Path, help="the federation config (.dfm.yaml)")
    parser.add_argument("--homesite", required=True, help="the site the application runs at")
    parser.add_argument("--output", required=True, type=Path, help="where to write the kits")
    parser.add_argument(
        "--server-host",
        default=None,
        help="the server's DNS name the others connect to (default: the server participant's name)",
    )
    parser.add_argument("--port", type=int, default=8002, help="the server's port (default 8002)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from ._provision import ProvisionError, provision

    try:
        written = provision(args.config, args.homesite, args.output, args.server_host, args.port)
    except (ProvisionError, ValueError) as e:
        return _error("dfm provision", str(e))
    for kit, readme in written:
        print(f"{kit}  (see {readme.name})")
    return 0


def jobs_command(argv: list[str]) -> int:
    """List the DFM jobs of a FLARE federation with their status; `dfm jobs show ID`."""
    parser = argparse.ArgumentParser(
        prog="dfm jobs",
        description="The DFM jobs the federation's DFM service knows (running and recently "
        "finished), with DFM's own status.",
    )
    parser.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    parser.add_argument("job_id", nargs="?", help="with show: the job")
    parser.add_argument("--workspace", default=None, help=_WS_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.action == "show" and not args.job_id:
        return _error("dfm jobs", "`dfm jobs show` needs a job id")
    import logging

    from dfm.session import SessionInfo

    from ._target import FlareTarget

    ws = Workspace.resolve(args.workspace)
    try:
        state = ws.load()
        info = SessionInfo(state.federation, state.homesite, logging.getLogger("dfm.jobs"))
        target = FlareTarget(info, workspace=str(ws.root), mode="per-job")
        target.connect()
        try:
            jobs = target.list_jobs()
        finally:
            target.close()
    except (WorkspaceError, RuntimeError, ValueError) as e:
        return _error("dfm jobs", str(e))
    if args.action == "show":
        chosen = [j for j in jobs if j["job"] == args.job_id]
        if not chosen:
            return _error("dfm jobs", f"no DFM job {args.job_id!r} in the federation's service")
        print(json.dumps(chosen[0], indent=2))
        return 0
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    if not jobs:
        print("No DFM jobs.")
        return 0
    print(f"{'JOB':<9} {'STATUS':<9} {'STARTED':<19} {'SITES':<30} PIPELINE")
    for job in jobs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.get("created", 0)))
        print(
            f"{job['job']:<9} {job['status']:<9} {started:<19} "
            f"{','.join(job['sites']):<30} {job.get('pipeline', '')}"
        )
    return 0
