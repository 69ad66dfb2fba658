"""The ``dfm run``, ``dfm show`` and ``dfm targets`` subcommands (entry points of ``dfm.cli``)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._cli_inputs import (
    CliError,
    find_federation,
    find_homesite,
    is_prepared,
    load_fed_info,
    load_pipeline,
    load_prepared,
    parse_params,
    read_json_file,
    use_working_directory,
)
from ._cli_output import Progress, TokenPrinter
from ._discovery import installed_targets
from ._status import JobStatus

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline

EXIT_FAILED = 1
EXIT_USAGE = 2


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


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pipeline", help="the pipeline JSON file (Pipeline.save_to_file, or a prepared pipeline)"
    )
    parser.add_argument(
        "--federation",
        default=None,
        help="the federation package (default: the one the pipeline's operations belong to, "
        "else the only one in the working directory)",
    )
    parser.add_argument(
        "--homesite",
        default=None,
        help="the site the application runs at (default: the federation's only site, else "
        "its only site without operations)",
    )


def _prepared_from(args: argparse.Namespace) -> PreparedPipeline:
    """Read ``args.pipeline`` and prepare it (or load it, when it is prepared already)."""
    use_working_directory()
    data = read_json_file(args.pipeline)
    if is_prepared(data):
        prepared = load_prepared(args.pipeline, data)
        if args.federation and args.federation != prepared.federation_name:
            raise CliError(
                f"{args.pipeline!r} was prepared for federation {prepared.federation_name!r}, "
                f"not {args.federation!r}"
            )
        if args.homesite and args.homesite != prepared.homesite:
            raise CliError(
                f"{args.pipeline!r} was prepared for homesite {prepared.homesite!r}, "
                f"not {args.homesite!r}"
            )
        return prepared
    federation = find_federation(args.federation, data, Path.cwd())
    fed_info = load_fed_info(federation)
    homesite = find_homesite(args.homesite, federation, fed_info)
    pipeline = load_pipeline(args.pipeline, data, federation)
    from dfm.irgen import prepare
    from dfm.runtime import load_site_runtime_module

    try:
        if pipeline.api_version == "":
            module = load_site_runtime_module(federation, homesite, adapters=False)
            pipeline = pipeline.model_copy(update={"api_version": str(module.API_VERSION)})
        return prepare(pipeline, fed_info, homesite, federation)
    except ValueError as e:
        raise CliError(str(e)) from None


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)


def run_command(argv: list[str]) -> int:
    """Run a saved pipeline and print every result as it arrives.

    Args:
        argv: The arguments after ``dfm run``.

    Returns:
        0 if the job FINISHED, 1 if it failed, was cancelled or timed out, 2 for a
        mistake in the arguments or the files they name.
    """
    parser = argparse.ArgumentParser(
        prog="dfm run",
        description="Prepare and execute a saved pipeline; print each token (site, node, "
        "frame, place, data) as a JSON line, then a line with the job's status.",
    )
    _add_pipeline_arguments(parser)
    parser.add_argument(
        "--params", default="{}", help="JSON: one parameter set (an object) or a list of them"
    )
    parser.add_argument(
        "--format", choices=("json", "text"), default="json", help="output (default: json)"
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="a progress line on stderr for jobs running longer than a second "
        "(auto: when stderr is a terminal)",
    )
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
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        params = parse_params(args.params)
        prepared = _prepared_from(args)
    except CliError as e:
        print(f"dfm run: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    return _execute(prepared, params, args)


def _execute(prepared: PreparedPipeline, params: Any, args: argparse.Namespace) -> int:
    from ._session import Session

    operations = {d.node_id: d.operation for d in prepared.placement_details.values()}
    printer = TokenPrinter(args.format, operations=operations)
    frames = len(params) if isinstance(params, list) else 1
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    progress = Progress(frames, sys.stderr) if show else None

    def on_token(site: str, node: int | str | None, frame: Any, place: str, data: Any) -> None:
        printer(site, node, frame, place, data)
        if progress is not None:
            progress.count(place, frame)

    try:
        session = Session(
            prepared.federation_name,
            prepared.homesite,
            target=args.target,
            **dict(args.option),
        )
    except (LookupError, ImportError, TypeError, ValueError) as e:
        print(f"dfm run: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    note = ""
    try:
        with session:
            try:
                job = session.execute(prepared, params, default_callback=on_token)
            except (TypeError, ValueError) as e:
                print(f"dfm run: error: {e}", file=sys.stderr)
                return EXIT_USAGE
            if progress is not None:
                progress.start()
            try:
                finished = job.wait_until_finished(args.timeout)
                if not finished:
                    note = f"timed out after {args.timeout:g}s; the job was cancelled"
                    job.cancel()
            finally:
                if progress is not None:
                    progress.stop()
            status = job.get_status()
            printer.finish(job.job_id, status, job.errors, note)
    except Exception as e:  # the target failed: say so, without a traceback
        print(f"dfm run: error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED
    return 0 if finished and status is JobStatus.FINISHED else EXIT_FAILED


def show_command(argv: list[str]) -> int:
    """Draw a pipeline's placement: sites, operations, the tokens between them.

    Args:
        argv: The arguments after ``dfm show``.

    Returns:
        0 when the picture (or, without Graphviz, its DOT text) was written, 1 when
        Graphviz failed, 2 for a mistake in the arguments or the files they name.
    """
    parser = argparse.ArgumentParser(
        prog="dfm show",
        description="Prepare a saved pipeline and draw where each operation runs: sites as "
        "boxes, operations with the costs that placed them, and the tokens between sites. "
        "Rendered with Graphviz's `dot` when it is installed (apt-get install graphviz); "
        "otherwise the DOT text is printed.",
    )
    _add_pipeline_arguments(parser)
    parser.add_argument(
        "--format", choices=("svg", "png", "dot"), default="svg", help="(default: svg)"
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        help="the file to write (default: the pipeline's name with the format's suffix, in "
        "the working directory; '-' for standard output)",
    )
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        prepared = _prepared_from(args)
    except CliError as e:
        print(f"dfm show: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    dot = prepared.to_dot()
    graphviz = shutil.which("dot")
    fmt = args.format
    if fmt != "dot" and graphviz is None:
        print(
            "dfm show: Graphviz's `dot` is not installed, so here is the DOT text (install "
            "Graphviz, e.g. `apt-get install graphviz`, to get an image)",
            file=sys.stderr,
        )
        sys.stdout.write(dot)
        return 0
    output = args.output or f"{Path(args.pipeline).stem}.{fmt}"
    if fmt == "dot":
        content = dot.encode("utf-8")
    else:
        assert graphviz is not None
        done = subprocess.run(
            [graphviz, f"-T{fmt}"], input=dot.encode("utf-8"), capture_output=True, timeout=120
        )
        if done.returncode != 0:
            print(
                f"dfm show: error: dot -T{fmt} failed: {done.stderr.decode(errors='replace')}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        content = done.stdout
    if output == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return 0
    try:
        Path(output).write_bytes(content)
    except OSError as e:
        print(f"dfm show: error: cannot write {output}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"dfm show: wrote {output}", file=sys.stderr)
    return 0
