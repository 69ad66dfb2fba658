"""The ``dfm run`` and ``dfm targets`` subcommands (entry points of ``dfm.cli``)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from dfm.api import Frame, federation_prefixes

from ._discovery import installed_targets
from ._session import Session
from ._status import JobStatus


def targets_command(argv: list[str]) -> int:
    """List the installed targets (name, distribution, version).

    Args:
        argv: The arguments after ``dfm targets``.

    Returns:
        0, or 1 when two distributions claim one name.
    """
    argparse.ArgumentParser(
        prog="dfm targets", description="List the installed DFM targets."
    ).parse_args(argv)
    entries = installed_targets()
    if not entries:
        print("No DFM targets are installed; install a target distribution (docs: Targets)")
        return 0
    names = [e.name for e in entries]
    width = max(len("NAME"), *(len(n) for n in names))
    dist_width = max(len("DISTRIBUTION"), *(len(e.distribution) for e in entries))
    print(f"{'NAME':<{width}}  {'DISTRIBUTION':<{dist_width}}  VERSION")
    duplicate = False
    for entry in entries:
        note = ""
        if names.count(entry.name) > 1:
            duplicate, note = True, "  (DUPLICATE: registered by more than one distribution)"
        print(f"{entry.name:<{width}}  {entry.distribution:<{dist_width}}  {entry.version}{note}")
    return 1 if duplicate else 0


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    words = {"true": True, "false": False, "none": None, "null": None}
    if raw.lower() in words:  # Python spellings too: processes=False is a bool
        return key, words[raw.lower()]
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def _print_token(site: str, node: int | str | None, frame: Frame, place: str, data: Any) -> None:
    print(f"{site}\t{node}\t{frame}\t{place}\t{data}", flush=True)


def _check_federation(federation: str, pipeline_file: str) -> None:
    """Fail early, and clearly, when the federation or the pipeline's operations are off."""
    if importlib.util.find_spec(federation) is None:
        raise ValueError(
            f"federation package {federation!r} not found in the working directory or the "
            f"installed packages; generate it with `dfm gen CONFIG --output .` here, or install it"
        )
    try:
        body = json.loads(Path(pipeline_file).read_text(encoding="utf-8")).get("dfm_body", [])
    except (OSError, ValueError, AttributeError):
        return  # loading the pipeline reports these
    used = {
        str(stmt.get("dfm_class_name", "")).split(".")[0] for stmt in body if isinstance(stmt, dict)
    } - {"dfm", ""}
    others = sorted(used - {federation})
    if others:
        raise ValueError(
            f"the pipeline uses operations of {', '.join(map(repr, others))}, not of "
            f"federation {federation!r}; pass --federation {others[0]}"
        )


def run_command(argv: list[str]) -> int:
    """Run a saved pipeline and print every token as it arrives.

    Args:
        argv: The arguments after ``dfm run``.

    Returns:
        0 if the job FINISHED, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="dfm run",
        description="Prepare and execute a pipeline saved as JSON; print each token "
        "(site, node, frame, place, data) and the final status.",
    )
    parser.add_argument("pipeline", help="the pipeline JSON file (Pipeline.save_to_file)")
    parser.add_argument("--federation", required=True, help="the federation package")
    parser.add_argument("--homesite", required=True, help="the site the application runs at")
    parser.add_argument("--params", default="{}", help="JSON: one parameter set or a list")
    parser.add_argument(
        "--target",
        default=None,
        help="target name (default: DFM_TARGET, else the installed default target)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        type=_parse_option,
        metavar="KEY=VALUE",
        help="a target option (VALUE parsed as JSON when possible); repeatable",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from dfm.api import Pipeline

    # Like `python -m`, look for the federation package in the working directory first:
    # `dfm gen CONFIG --output .` puts it there.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as e:
        print(f"dfm run: error: --params is not JSON ({e}): {args.params!r}", file=sys.stderr)
        return 2
    try:
        _check_federation(args.federation, args.pipeline)
        pipeline = Pipeline.load_from_file(
            args.pipeline, allow=federation_prefixes(args.federation)
        )
        with Session(
            args.federation, args.homesite, target=args.target, **dict(args.option)
        ) as session:
            prepared = session.prepare(pipeline)
            job = session.execute(prepared, params, default_callback=_print_token)
            finished = job.wait_until_finished(args.timeout)
            if not finished:
                print(f"Timed out after {args.timeout}s; cancelling job {job.job_id}")
                job.cancel()
            status = job.get_status()
            print(f"Job {job.job_id}: {status.name}")
            for error in job.errors:
                print(f"  {error}", file=sys.stderr)
    except Exception as e:
        print(f"dfm run: error: {e}", file=sys.stderr)
        return 1
    return 0 if finished and status is JobStatus.FINISHED else 1
