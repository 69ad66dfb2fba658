"""``dfm gen`` and ``dfm check``: the modgen subcommands of the ``dfm`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from .apigen import GenerationError, write_federation
from .config import ConfigError, ConfigIssue, FederationConfig, load_federation_config

__all__ = ["check_command", "gen_command", "init_command"]

_PROG = "dfm gen"
_CHECK_PROG = "dfm check"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Generate a federation's Python package from its .dfm.yaml config: "
            "<DIR>/<code-package>/fed/ with the operation classes (api), site-pinned "
            "classes (site), schema models (schema) and per-site runtimes (runtime). "
            "fed/ is replaced as a whole; files beside it are never touched."
        ),
    )
    parser.add_argument("config", metavar="CONFIG", help="the federation config (*.dfm.yaml)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=".",
        help="folder that holds the generated package (default: the current directory)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every file written, unchanged or removed"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="after generating, import every adapter and check it against its binding "
        "(as dfm check does, with DIR on the import path); exit 1 on any mismatch",
    )
    return parser


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_CHECK_PROG,
        description=(
            "Check a federation config and its adapters: load the config (every mistake is "
            "reported), import every adapter class, and check that its constructor takes the "
            "binding's args, that body() is async exactly when is-async says so, and that "
            "body() accepts every argument the binding passes and requires none it may leave "
            "out. Exit 1 when anything does not fit."
        ),
    )
    parser.add_argument("config", metavar="CONFIG", help="the federation config (*.dfm.yaml)")
    parser.add_argument(
        "-p",
        "--path",
        metavar="DIR",
        action="append",
        default=[],
        help="a folder to import the adapters (and the generated package) from; repeatable "
        "(default: the config's folder, then the current directory)",
    )
    return parser


def _report_adapters(prog: str, config: FederationConfig, issues: list[ConfigIssue]) -> int:
    stdout, stderr = sys.stdout, sys.stderr
    bindings = sum(
        len(site.interface) + sum(len(p.interface) for p in site.providers.values())
        for site in config.sites.values()
    )
    if issues:
        noun = "problem" if len(issues) == 1 else "problems"
        print(
            f"{prog}: error: {len(issues)} {noun} with the adapters of federation "
            f"{config.code_package!r}:",
            file=stderr,
        )
        for issue in issues:
            print(f"  - {issue}", file=stderr)
        return 1
    print(
        f"{prog}: federation {config.code_package!r}: the adapters of all {bindings} "
        f"binding{'s' * (bindings != 1)} fit their operations",
        file=stdout,
    )
    return 0


def check_command(argv: list[str]) -> int:
    """Check a federation config and that every adapter fits its binding.

    Args:
        argv: The arguments after ``dfm check``.

    Returns:
        0 when the config loads and every adapter fits, 1 otherwise, 2 for a bad
        command line.
    """
    try:
        args = _check_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    from ._adapter_check import check_adapters

    try:
        config = load_federation_config(args.config)
    except ConfigError as exc:
        print(f"{_CHECK_PROG}: error: {exc}", file=sys.stderr)
        return 1
    folders = args.path or [str(Path(args.config).resolve().parent), os.getcwd()]
    return _report_adapters(_CHECK_PROG, config, check_adapters(config, folders))


class _WarningHandler(logging.Handler):
    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{_PROG}: warning: {record.getMessage()}", file=self._stream)


def _show(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def gen_command(argv: list[str]) -> int:
    """Generate a federation's Python package from its .dfm.yaml config.

    Args:
        argv: The arguments after ``dfm gen``.

    Returns:
        0 on success, 1 when the config has mistakes or cannot be generated, 2 for a
        bad command line.
    """
    stdout, stderr = sys.stdout, sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    handler = _WarningHandler(stderr)
    log = logging.getLogger("dfm.modgen")
    log.addHandler(handler)
    try:
        config = load_federation_config(args.config)
        report = write_federation(config, args.output)
    except ConfigError as exc:
        print(f"{_PROG}: error: {exc}", file=stderr)
        return 1
    except GenerationError as exc:
        print(f"{_PROG}: error: cannot generate {args.config}: {exc}", file=stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{_PROG}: error: cannot write{where}: {exc.strerror or exc}", file=stderr)
        return 1
    finally:
        log.removeHandler(handler)
    ops, sites = len(config.operations), len(config.sites)
    print(
        f"{_PROG}: federation {config.code_package!r} ({ops} operation{'s' * (ops != 1)}, "
        f"{sites} site{'s' * (sites != 1)}) -> {_show(report.package_dir / 'fed')}",
        file=stdout,
    )
    unchanged = len(report.files) - len(report.changed)
    print(
        f"  {len(report.files)} files: {len(report.changed)} written, {unchanged} unchanged, "
        f"{len(report.removed)} stale removed",
        file=stdout,
    )
    if args.verbose:
        changed = set(report.changed)
        for path in report.files:
            verb = "wrote    " if path in changed else "unchanged"
            print(f"  {verb} {_show(path)}", file=stdout)
        for path in report.removed:
            print(f"  removed   {_show(path)}", file=stdout)
    if args.check:
        from ._adapter_check import check_adapters

        folders = [args.output, str(Path(args.config).resolve().parent)]
        return _report_adapters(_PROG, config, check_adapters(config, folders))
    return 0


def init_command(argv: list[str]) -> int:
    """Create a new federation that runs at once: config, adapters, an application.

    Args:
        argv: The arguments after ``dfm init``.

    Returns:
        0 on success, 1 when the files cannot be written, 2 for a bad name or
        command line.
    """
    from ._scaffold import ScaffoldError, write_scaffold

    parser = argparse.ArgumentParser(
        prog="dfm init",
        description="Create a new federation NAME in the folder NAME (or --dir): its config "
        "NAME.dfm.yaml (sites app, east, west), the adapters package NAME/lib and app.py. "
        "Then: cd NAME; dfm gen NAME.dfm.yaml --output .; python app.py",
    )
    parser.add_argument("name", metavar="NAME", help="the federation and its Python package")
    parser.add_argument("--dir", metavar="DIR", help="where to create it (default: ./NAME)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    folder = Path(args.dir) if args.dir else Path(args.name)
    try:
        written = write_scaffold(args.name, folder)
    except ScaffoldError as exc:
        print(f"dfm init: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"dfm init: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"dfm init: created federation {args.name!r} in {_show(folder)} ({len(written)} files)")
    cd = "" if folder.resolve() == Path.cwd().resolve() else f"cd {_show(folder)} && "
    print(f"  next: {cd}dfm gen {args.name}.dfm.yaml --output . && python app.py")
    return 0
