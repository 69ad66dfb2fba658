"""Run each package's tests with only that package and its dependencies installed.

Usage: python tools/split_test.py [--package NAME]... [--workdir DIR] [--keep] [PYTEST_ARGS...]

1. Builds an sdist of every distribution under packages/, then a wheel *from
   that sdist* (as pip does from PyPI), so a package whose sdist is not
   self-contained fails here.
2. For each package with tests: a fresh venv, the package's wheel and the wheels
   of the siblings it depends on (all from step 1; --find-links points at them,
   so no sibling can come from an index), pytest, hypothesis and the package's
   ``[dependency-groups] test`` if it has one, and the shared test plugin
   (tests-support/dfm-testkit); then pytest on its tests/.

3. The three roles, each in a fresh venv with one distribution and its dependencies
   only (``tools/roles/``): a config author (dfm-modgen) generates examples/meteo, a
   site (dfm-runtime) runs its net of a pipeline, an application (dfm-target-local)
   runs a pipeline; each checks that what it does not need is absent.

A package whose tests/ has no test files is skipped with a message. A package
whose tests collect nothing (pytest exit code 5) fails. Exits 1 if any failed.
Run it in the ``split`` hatch env (hatchling and uv installed): ``hatch run split:run``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from _repo import ROOT, Package, find_packages, normalize, sibling_closure

TEST_DEPENDENCIES = ["pytest>=8", "hypothesis>=6"]
TESTKIT = ROOT / "tests-support" / "dfm-testkit"  # the shared pytest plugin
NO_TESTS_COLLECTED = 5
ROLES_DIR = Path(__file__).resolve().parent / "roles"
EXAMPLE = ROOT / "examples" / "meteo"
# (role, the one distribution it installs, its script); in order: the author's output
# is the federation package the other two use.
ROLES = [
    ("config author", "dfm-modgen", "author_role.py"),
    ("site", "dfm-runtime", "site_role.py"),
    ("application", "dfm-target-local", "application_role.py"),
]


def run(command: list[str], **kwargs: Any) -> None:
    subprocess.run(command, check=True, **kwargs)


def find_uv() -> str | None:
    try:
        from uv import find_uv_bin  # the uv wheel ships its binary

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def build_wheels(packages: list[Package], workdir: Path) -> dict[str, Path]:
    """Build sdist then wheel-from-sdist for every package; return name -> wheel."""
    sdists, unpacked, wheels = workdir / "sdist", workdir / "unpacked", workdir / "wheels"
    for d in (sdists, unpacked, wheels):
        d.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    for pkg in packages:
        before = set(sdists.glob("*.tar.gz"))
        run(
            [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(sdists)],
            cwd=pkg.path,
        )
        (sdist,) = set(sdists.glob("*.tar.gz")) - before
        with tarfile.open(sdist) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(unpacked, filter="data")
            else:  # Python 3.11 before 3.11.4
                tar.extractall(unpacked)
        source = unpacked / sdist.name.removesuffix(".tar.gz")
        before = set(wheels.glob("*.whl"))
        run(
            [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(wheels)],
            cwd=source,
        )
        (wheel,) = set(wheels.glob("*.whl")) - before
        built[pkg.name] = wheel
        print(f"split: built {sdist.name} -> {wheel.name}", flush=True)
    before = set(wheels.glob("*.whl"))
    run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(wheels)],
        cwd=TESTKIT,
    )
    (built["dfm-testkit"],) = set(wheels.glob("*.whl")) - before
    return built


def find_test_files(pkg: Package) -> list[Path]:
    tests = pkg.path / "tests"
    if not tests.is_dir():
        return []
    return sorted(
        p for p in tests.rglob("*.py") if p.name.startswith("test_") or p.name.endswith("_test.py")
    )


def extra_test_requirements(pkg: Package) -> list[str]:
    group = pkg.config.get("dependency-groups", {}).get("test", [])
    return [g for g in group if isinstance(g, str)]


def make_venv(venv: Path, uv: str | None) -> Path:
    if uv:
        run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    else:
        run([sys.executable, "-m", "venv", str(venv)])
    bindir = "Scripts" if os.name == "nt" else "bin"
    return venv / bindir / ("python.exe" if os.name == "nt" else "python")


def install(python: Path, requirements: list[str], find_links: Path, uv: str | None) -> None:
    if uv:
        command = [uv, "pip", "install", "--quiet", "--python", str(python)]
    else:
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*command, "--find-links", str(find_links), *requirements])


def run_package_tests(
    pkg: Package,
    packages: list[Package],
    wheels: dict[str, Path],
    workdir: Path,
    uv: str | None,
    pytest_args: list[str],
) -> int:
    closure = sibling_closure(packages, pkg.name)
    venv = workdir / "venvs" / pkg.dir_name
    python = make_venv(venv, uv)
    requirements = (
        [str(wheels[p.name]) for p in closure]
        + [str(wheels["dfm-testkit"])]
        + TEST_DEPENDENCIES
        + extra_test_requirements(pkg)
    )
    print(f"split: {pkg.name}: installing {', '.join(p.name for p in closure)}", flush=True)
    install(python, requirements, wheels[pkg.name].parent, uv)
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    # -P: the cwd (the repo root, for readable paths) is not put on sys.path, so
    # nothing from the source tree can shadow the installed wheels.
    command = [
        str(python),
        "-P",
        "-m",
        "pytest",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(ROOT),
        "-p",
        "no:cacheprovider",
        *pytest_args,
        str((pkg.path / "tests").relative_to(ROOT)),
    ]
    return subprocess.call(command, cwd=ROOT, env=env)


def run_roles(
    packages: list[Package], wheels: dict[str, Path], workdir: Path, uv: str | None
) -> dict[str, str]:
    """Each role with only its distribution installed; returns role -> outcome."""
    example = workdir / "roles" / "meteo"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("fed", "__pycache__"))
    outcomes: dict[str, str] = {}
    for role, dist, script in ROLES:
        print(f"\nsplit: ===== role: {role} ({dist}) =====", flush=True)
        closure = sibling_closure(packages, dist)
        python = make_venv(workdir / "venvs" / f"role-{dist}", uv)
        install(python, [str(wheels[p.name]) for p in closure], wheels[dist].parent, uv)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["XDG_CACHE_HOME"] = str(workdir / "xdg-cache")
        code = subprocess.call([str(python), str(ROLES_DIR / script)], cwd=example, env=env)
        outcomes[f"role: {role}"] = "passed" if code == 0 else f"FAILED: exit code {code}"
        if code != 0 and role == "config author":
            break  # the others need its output
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--package", action="append", default=[], help="only this package (repeatable)"
    )
    parser.add_argument("--workdir", type=Path, help="build and venv dir (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--no-roles", action="store_true", help="skip the role checks (tools/roles/)"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest, as are unknown options")
    args, unknown_options = parser.parse_known_args(argv)
    pytest_args: list[str] = [*unknown_options, *args.pytest_args]

    packages = find_packages(ROOT)
    wanted = {normalize(n) for n in args.package}
    unknown = wanted - {p.name for p in packages}
    if unknown:
        print(f"split: unknown package(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    selected = [p for p in packages if not wanted or p.name in wanted]

    uv = find_uv()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dfm-split-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, str] = {}
    try:
        wheels = build_wheels(packages, workdir)
        for pkg in selected:
            if not find_test_files(pkg):
                print(f"split: {pkg.name}: skipped, no test files in tests/", flush=True)
                results[pkg.name] = "skipped (no tests)"
                continue
            print(f"\nsplit: ===== {pkg.name} =====", flush=True)
            started = time.monotonic()
            code = run_package_tests(pkg, packages, wheels, workdir, uv, pytest_args)
            elapsed = f"{time.monotonic() - started:.0f}s"
            if code == 0:
                results[pkg.name] = f"passed ({elapsed})"
            elif code == NO_TESTS_COLLECTED:
                results[pkg.name] = "FAILED: has test files but pytest collected no tests"
            else:
                results[pkg.name] = f"FAILED: pytest exit code {code} ({elapsed})"
        if not args.no_roles and not wanted:
            results.update(run_roles(packages, wheels, workdir, uv))
    except subprocess.CalledProcessError as e:
        print(
            f"split: error: {' '.join(map(str, e.cmd))} exited with {e.returncode}", file=sys.stderr
        )
        return 1
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            print(f"split: kept {workdir}")

    print("\nsplit: summary")
    for name, outcome in results.items():
        print(f"  {name:<24} {outcome}")
    failed = [n for n, o in results.items() if o.startswith("FAILED")]
    if failed:
        print(f"split: {len(failed)} package(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
