"""``dfm gen``: the modgen subcommand of the ``dfm`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from .apigen import GenerationError, write_federation
from .config import ConfigError, load_federation_config

__all__ = ["gen_command"]

_PROG = "dfm gen"


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
    return parser


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
    return 0
