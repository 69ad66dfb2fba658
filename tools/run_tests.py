"""Run every test of the workspace in one pytest run.

Usage: python tools/run_tests.py [PYTEST_ARGS...]

Without a path among the arguments it runs packages/*/tests, tests-integration/
and tools/tests (those that exist), except tests-integration/plugin/: those need the
third-party plugin installed and run in the integration env (`hatch run integration:run`).
pytest's "no tests collected" (exit code 5) is a failure here: the whole workspace
always has tests, so collecting none means something is broken.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _repo import ROOT, find_packages

NO_TESTS_COLLECTED = 5


def default_paths(root: Path = ROOT) -> list[str]:
    paths = [p.path / "tests" for p in find_packages(root)]
    paths += [root / "tests-integration", root / "tools" / "tests"]
    found = [os.path.relpath(p) for p in paths if p.is_dir()]
    plugin = root / "tests-integration" / "plugin"
    return [*found, f"--ignore={os.path.relpath(plugin)}"] if plugin.is_dir() else found


def names_a_path(args: list[str]) -> bool:
    for arg in args:
        if arg.startswith("-"):
            continue
        if Path(arg.split("::", 1)[0]).exists():
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not names_a_path(args):
        args += default_paths()
    # Run in-process (so `coverage run tools/run_tests.py` measures the tests),
    # without tools/ on sys.path: tests import only installed packages.
    tools_dir = str(Path(__file__).resolve().parent)
    sys.path[:] = [
        p for p in sys.path if Path(p or ".").resolve().as_posix() != Path(tools_dir).as_posix()
    ]
    import pytest

    code = int(pytest.main(args))
    if code == NO_TESTS_COLLECTED:
        print("run_tests: pytest collected no tests; treating that as a failure", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
