"""The ``dfm`` command: a thin dispatcher over the ``dfm.cli`` entry points.

dfm-api is the package every distribution depends on, so it owns the command
but no subcommand: each distribution registers its own. A subcommand is a
callable taking the remaining arguments and returning an exit code; the first
line of its docstring is its help line in ``dfm --help``::

    def gen_command(argv: list[str]) -> int:
        '''Generate a federation package from a .dfm.yaml config.'''
        ...

and in the registering distribution's ``pyproject.toml``::

    [project.entry-points."dfm.cli"]
    gen = "dfm.modgen._cli:gen_command"

Entry points are listed without being imported (name, value, distribution);
``dfm NAME`` imports only NAME's. ``dfm --help`` imports each to read its help
line, and lists one that fails to import with the error instead of failing.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import TextIO

GROUP = "dfm.cli"
"""The entry-point group of ``dfm`` subcommands."""

DISTRIBUTION = "dfm-api"
"""The distribution that owns the ``dfm`` command; ``dfm --version`` reports its version."""

EXIT_USAGE = 2
"""Exit code for a mistake in the command line (unknown subcommand, conflicting names)."""

Command = Callable[[list[str]], int]
"""What a ``dfm.cli`` entry point loads: ``command(argv) -> exit code``."""

_PROG = "dfm"
_NO_HELP = "(no description)"


@dataclass(frozen=True)
class Subcommand:
    """One ``dfm.cli`` entry point, as listed by the metadata (not loaded).

    Attributes:
        name: The word users type after ``dfm``.
        value: The entry point's ``module:attribute``.
        distribution: The distribution that registers it.
    """

    name: str
    value: str
    distribution: str

    def load(self) -> Command:
        """Import and return the command callable.

        Returns:
            The callable the entry point names.

        Raises:
            TypeError: If the entry point does not name a callable.
            Exception: Whatever importing the entry point's module raises.
        """
        obj = EntryPoint(name=self.name, value=self.value, group=GROUP).load()
        if not callable(obj):
            raise TypeError(f"{self.value} is not callable")
        command: Command = obj
        return command


class SubcommandConflictError(Exception):
    """Two distributions register the same ``dfm`` subcommand name."""

    def __init__(self, name: str, first: Subcommand, second: Subcommand) -> None:
        """Record the name and both registrations.

        Args:
            name: The contested subcommand name.
            first: One registration.
            second: The other registration.
        """
        self.name = name
        self.registrations = (first, second)
        super().__init__(
            f"subcommand {name!r} is registered by two distributions: "
            f"{first.distribution} ({first.value}) and {second.distribution} ({second.value}); "
            "uninstall one of them"
        )


@functools.cache
def scan_subcommands() -> tuple[Subcommand, ...]:
    """List the installed ``dfm.cli`` entry points without importing them.

    The scan reads installed metadata once per process and is cached.

    Returns:
        One ``Subcommand`` per entry point, in metadata order.
    """
    return tuple(
        Subcommand(
            name=ep.name,
            value=ep.value,
            distribution=ep.dist.name if ep.dist is not None else "(unknown distribution)",
        )
        for ep in entry_points(group=GROUP)
    )


def index_subcommands(subcommands: Iterable[Subcommand]) -> dict[str, Subcommand]:
    """Map each subcommand name to its registration, sorted by name.

    Args:
        subcommands: The scanned entry points.

    Returns:
        The registrations by name.

    Raises:
        SubcommandConflictError: If two distributions register the same name.
    """
    by_name: dict[str, Subcommand] = {}
    for sub in subcommands:
        seen = by_name.get(sub.name)
        if seen is not None and seen.distribution != sub.distribution:
            raise SubcommandConflictError(sub.name, seen, sub)
        by_name[sub.name] = sub
    return dict(sorted(by_name.items()))


def help_line(sub: Subcommand) -> str:
    """Return a subcommand's one-line help: the first line of its docstring.

    Args:
        sub: The subcommand to describe; it is loaded to read its docstring.

    Returns:
        The help line, or ``(failed to load: <error>)`` if it cannot be loaded.
    """
    try:
        command = sub.load()
    except Exception as e:  # any import-time error must not break `dfm --help`
        return f"(failed to load: {type(e).__name__}: {e})"
    doc = inspect.getdoc(command)
    return doc.strip().splitlines()[0] if doc and doc.strip() else _NO_HELP


def dfm_version() -> str:
    """Return the version of the installed dfm-api distribution.

    Returns:
        The version string, or ``unknown`` when dfm-api is not installed.
    """
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def format_help(subcommands: dict[str, Subcommand]) -> str:
    """Render ``dfm --help``.

    Args:
        subcommands: The installed subcommands by name.

    Returns:
        The help text, ending with a newline.
    """
    lines = [
        f"usage: {_PROG} [-V | --version] [-h | --help] <command> [args...]",
        "",
        "DFM (Data Federation Mesh): run data pipelines across a federation of sites.",
        "",
        "options:",
        "  -h, --help     show this help and exit",
        "  -V, --version  show the DFM version and exit",
        "",
        "commands:",
    ]
    if subcommands:
        width = max(len(name) for name in subcommands)
        for name, sub in subcommands.items():
            lines.append(f"  {name:<{width}}  {help_line(sub)}")
        lines += [
            "",
            f"Run '{_PROG} <command> --help' for the options of a command; "
            f"'eval \"$({_PROG} completion bash)\"' turns on TAB completion.",
        ]
    else:
        lines.append(
            "  (none installed: subcommands come with DFM's distributions: "
            "dfm-modgen gives gen and init, dfm-session run, show and targets; dfm-all all)"
        )
    return "\n".join(lines) + "\n"


def _error(message: str, stderr: TextIO) -> None:
    print(f"{_PROG}: error: {message}", file=stderr)


def _run(sub: Subcommand, argv: list[str], stderr: TextIO) -> int:
    try:
        command = sub.load()
    except Exception as e:  # report which plugin broke and where it came from
        _error(
            f"cannot load subcommand {sub.name!r} ({sub.value}) from {sub.distribution}: "
            f"{type(e).__name__}: {e}",
            stderr,
        )
        return 1
    try:
        result = command(argv)
    except SystemExit as e:  # argparse in a subcommand exits; keep main() a plain function
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result) if result is not None else 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``dfm`` command.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit code: the subcommand's, 0 for help and version, 2 for an unknown
        subcommand or two distributions registering the same name.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = sys.stdout, sys.stderr

    if args and args[0] in ("--version", "-V"):
        print(f"DFM, version {dfm_version()}", file=stdout)
        return 0

    try:
        subcommands = index_subcommands(scan_subcommands())
    except SubcommandConflictError as e:
        _error(str(e), stderr)
        return EXIT_USAGE

    if not args or args[0] in ("-h", "--help"):
        stdout.write(format_help(subcommands))
        return 0

    name, rest = args[0], args[1:]
    if name.startswith("-"):
        _error(f"unknown option {name!r}; see '{_PROG} --help'", stderr)
        return EXIT_USAGE
    sub = subcommands.get(name)
    if sub is None:
        installed = ", ".join(subcommands) if subcommands else "none"
        _error(
            f"unknown command {name!r}; installed commands: {installed}. "
            "Commands come with the DFM distributions that provide them "
            "(dfm-modgen: gen, init; dfm-session: run, show, targets; dfm-all: all of them).",
            stderr,
        )
        return EXIT_USAGE
    return _run(sub, rest, stderr)
