"""Run mypy --strict in package mode over every leaf package of every distribution.

Usage: python tools/typecheck.py [--print] [MYPY_ARGS...]

The -p list (``-p dfm.api -p dfm.irgen ... -p dfm.targets.local``) is computed
from packages/*/src/dfm, so a new package is checked as soon as it has code.
Package mode checks what users import: the installed (editable) packages,
through the PEP 420 namespace ``dfm``, with the config of the root pyproject.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys

from _repo import ROOT, find_packages, module_name


def mypy_targets() -> list[str]:
    modules = sorted(module_name(d) for p in find_packages(ROOT) for d in p.code_leaf_dirs())
    return [arg for mod in modules for arg in ("-p", mod)]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    targets = mypy_targets()
    if "--print" in args:
        print(" ".join(targets))
        return 0
    if not targets:
        print("typecheck: no leaf package has Python code yet; nothing to check")
        return 0
    # Each src dir on the search path, so the namespace spans all distributions
    # even where they are not installed (mypy reads no .pth of editable installs
    # it cannot see).
    src_dirs = [str(p.path / "src") for p in find_packages(ROOT) if (p.path / "src").is_dir()]
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join(
        src_dirs + [env["MYPYPATH"]] if env.get("MYPYPATH") else src_dirs
    )
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        *args,
        *targets,
    ]
    print("typecheck: mypy " + " ".join(command[5:]), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
