"""Build the sdist and wheel of every distribution under packages/ into dist/.

Usage: python tools/build_all.py [--out DIR]

Runs ``hatch build`` in each package directory (each package's build config is
its own pyproject.toml). Falls back to ``python -m hatchling build`` when the
hatch command is not on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from _repo import ROOT, find_packages


def build_command(out: Path) -> list[str]:
    hatch = shutil.which("hatch")
    if hatch:
        return [hatch, "build", "-t", "sdist", "-t", "wheel", str(out)]
    return [sys.executable, "-m", "hatchling", "build", "-t", "sdist,wheel", "-d", str(out)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist", help="output dir (default: dist/)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    command = build_command(out)
    # Run from inside a hatch env (hatch run ci:all): the package is its own
    # project, not an env of the workspace.
    env = {k: v for k, v in os.environ.items() if k not in ("HATCH_ENV_ACTIVE", "VIRTUAL_ENV")}
    failed = []
    for pkg in find_packages(ROOT):
        print(f"build_all: {pkg.name}", flush=True)
        if subprocess.call(command, cwd=pkg.path, env=env) != 0:
            failed.append(pkg.name)
    if failed:
        print(f"build_all: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(
        f"build_all: {len(list(out.glob('*.whl')))} wheels, "
        f"{len(list(out.glob('*.tar.gz')))} sdists in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
