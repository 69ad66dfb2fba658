"""Check the repository invariants that keep the split packages installable together.

Usage: python tools/check_repo.py [--root DIR]

Prints every problem found (not just the first) and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from _imports import imported_modules, package_of
from _repo import (
    NAMESPACE_DIRS,
    PLUGIN_RANGE_RE,
    ROOT,
    Package,
    find_packages,
    load_pyproject,
    meta_package_problems,
    module_name,
    read_version,
    version_tuple,
)

VERSION_PATH = "../../VERSION"
WHEEL_PACKAGES = ["src/dfm"]
_VERSION_RE = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def check_package(pkg: Package, version: str, siblings: dict[str, Package]) -> list[str]:
    problems: list[str] = []
    where = f"packages/{pkg.dir_name}"

    def problem(message: str) -> None:
        problems.append(f"{where}: {message}")

    project = pkg.config.get("project")
    if not isinstance(project, dict):
        problem("pyproject.toml has no [project] table")
        return problems
    if pkg.name != pkg.dir_name:
        problem(f"distribution name {project.get('name')!r} differs from its directory name")

    # One version, one file.
    if "version" in project:
        problem("has a static [project] version; use dynamic = ['version'] and the VERSION file")
    if "version" not in project.get("dynamic", []):
        problem("'version' is not in [project] dynamic")
    version_source = pkg.hatch.get("version", {})
    if version_source.get("path") != VERSION_PATH:
        problem(f'[tool.hatch.version] must have path = "{VERSION_PATH}"')
    if not version_source.get("pattern"):
        problem("[tool.hatch.version] has no pattern (the VERSION file holds only the number)")

    for req in pkg.requirements():
        if not req.name.startswith("dfm-"):
            continue
        if req.name not in siblings:
            problem(f"depends on {req.name!r}, which is not a distribution under packages/")
        elif req.specifier != f"=={version}":
            problem(f"sibling pin {req.text!r} is not exactly '{req.name}=={version}'")

    if (pkg.path / "hatch.toml").exists():
        problem("has a hatch.toml; a package's build config belongs in its pyproject.toml")
    if not (pkg.path / "README.md").is_file():
        problem("has no README.md")

    if pkg.is_meta:
        return problems  # its dependencies: meta_package_problems

    if not (pkg.path / "tests").is_dir():
        problem("has no tests/ directory")
    elif (pkg.path / "tests" / "__init__.py").exists():
        problem(
            "tests/__init__.py exists; tests/ is not a package (pytest --import-mode=importlib)"
        )

    if pkg.wheel_config.get("packages") != WHEEL_PACKAGES:
        problem('[tool.hatch.build.targets.wheel] must have packages = ["src/dfm"]')

    src = pkg.path / "src"
    for parts in NAMESPACE_DIRS:
        ns = src.joinpath(*parts)
        rel = "/".join(("src", *parts))
        for init in ("__init__.py", "__init__.pyi"):
            if (ns / init).exists():
                problem(f"{rel}/{init} exists; {'.'.join(parts)} is a namespace package (PEP 420)")
        if ns.is_dir():
            for module in sorted(ns.glob("*.py")):
                if module.name != "__init__.py":
                    problem(
                        f"{rel}/{module.name}: a module directly in the namespace {'.'.join(parts)}"
                    )

    for leaf in pkg.code_leaf_dirs():
        rel = leaf.relative_to(pkg.path).as_posix()
        if not (leaf / "py.typed").is_file():
            problem(f"leaf package {rel} has no py.typed")
        if not (leaf / "__init__.py").is_file():
            problem(f"leaf package {rel} has no __init__.py")
    return problems


def provided_modules(pkg: Package) -> set[str]:
    return {module_name(d) for d in pkg.leaf_dirs()}


# What each of our distributions may depend on (ARCHITECTURE.md): the stack is
# api -> irgen -> runtime -> session -> targets, with modgen beside it on api and
# telemetry beside session on runtime. Optional imports (inside try/except
# ImportError) of a package outside the dependencies are allowed only as listed.
ARCHITECTURE = {
    "dfm-api": set(),
    "dfm-irgen": {"dfm-api"},
    "dfm-modgen": {"dfm-api"},
    "dfm-runtime": {"dfm-irgen"},
    "dfm-telemetry": {"dfm-runtime"},
    "dfm-session": {"dfm-runtime"},
}
OPTIONAL_IMPORTS = {"dfm-session": {"dfm-telemetry"}}


def check_architecture(packages: list[Package]) -> list[str]:
    """The declared sibling dependencies follow the stack of ARCHITECTURE.md."""
    problems = []
    for pkg in packages:
        allowed = ARCHITECTURE.get(pkg.name)
        if allowed is None:
            continue  # targets and the meta-package may depend on anything below them
        for req in pkg.requirements():
            if req.name.startswith("dfm-") and req.name not in allowed:
                problems.append(
                    f"packages/{pkg.dir_name}: depends on {req.name}, which ARCHITECTURE.md "
                    f"puts above or beside it (it may depend on: {sorted(allowed) or 'nothing'})"
                )
    return problems


def check_layering(packages: list[Package]) -> list[str]:
    """A package imports only from itself and the siblings it depends on (ast import graph)."""
    by_name = {p.name: p for p in packages}
    owner = {mod: p.name for p in packages for mod in provided_modules(p)}
    problems = []
    for pkg in packages:
        allowed: set[str] = set()
        todo, seen = [pkg.name], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in by_name:
                continue
            seen.add(name)
            allowed |= provided_modules(by_name[name])
            todo.extend(r.name for r in by_name[name].requirements())
        optional = {
            mod
            for name in OPTIONAL_IMPORTS.get(pkg.name, ())
            if name in by_name
            for mod in provided_modules(by_name[name])
        }
        src = pkg.path / "src"
        for path in sorted(src.rglob("*.py")):
            rel = path.relative_to(pkg.path.parent.parent).as_posix()
            try:
                found = imported_modules(path, package_of(path, src))
            except SyntaxError as e:
                problems.append(f"{rel}: cannot be parsed ({e.msg})")
                continue
            reported: set[tuple[int, str]] = set()
            for imp in found:
                leaf = _leaf_of(imp.module, owner)
                if leaf is None or leaf in allowed or (imp.optional and leaf in optional):
                    continue
                if (imp.lineno, leaf) in reported:
                    continue
                reported.add((imp.lineno, leaf))
                problems.append(
                    f"{rel}:{imp.lineno}: imports {imp.module} from {owner[leaf]}, which "
                    f"{pkg.name} does not depend on (layering)"
                )
    return problems


def _leaf_of(module: str, owner: dict[str, str]) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        candidate = ".".join(parts[:n])
        if candidate in owner:
            return candidate
    return None


def find_problems(root: Path) -> list[str]:
    problems: list[str] = []
    version_file = root / "VERSION"
    if not version_file.is_file():
        return ["VERSION: missing"]
    version = read_version(root)
    if not _VERSION_RE.match(version):
        problems.append(f"VERSION: {version!r} is not a public PEP 440 version")

    base = root / "packages"
    if base.is_dir():
        for d in sorted(base.iterdir()):
            if d.is_dir() and not (d / "pyproject.toml").is_file():
                problems.append(f"packages/{d.name}: has no pyproject.toml")
    packages = find_packages(root)
    if not packages:
        problems.append("packages/: no distributions found")
    siblings = {p.name: p for p in packages}
    for pkg in packages:
        problems.extend(check_package(pkg, version, siblings))
    problems.extend(meta_package_problems(packages, version))
    problems.extend(check_architecture(packages))
    problems.extend(check_layering(packages))
    problems.extend(check_plugin_ranges(root, version))
    problems.extend(check_coverage_paths(root, packages))
    return problems


def check_coverage_paths(root: Path, packages: list[Package]) -> list[str]:
    """Every leaf package with code has a [tool.coverage.paths] entry starting at its source."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return []
    paths = load_pyproject(pyproject).get("tool", {}).get("coverage", {}).get("paths", {})
    firsts = {entry[0] for entry in paths.values() if isinstance(entry, list) and entry}
    problems = []
    for pkg in packages:
        for leaf in pkg.code_leaf_dirs():
            rel = leaf.relative_to(root).as_posix()
            if rel not in firsts:
                problems.append(
                    f"pyproject.toml: [tool.coverage.paths] has no entry starting with {rel!r} "
                    f'(add: {module_name(leaf).split(".", 1)[1].replace(".", "_")} = ["{rel}", '
                    f'"*/site-packages/{module_name(leaf).replace(".", "/")}"])'
                )
    return problems


def check_plugin_ranges(root: Path, version: str) -> list[str]:
    """The test plugins' ranged pins must admit the current version."""
    problems = []
    current = version_tuple(version)
    for path in sorted(root.glob("tests-integration/plugins/*/pyproject.toml")):
        for m in PLUGIN_RANGE_RE.finditer(path.read_text(encoding="utf-8")):
            if not version_tuple(m["low"]) <= current < version_tuple(m["high"]):
                where = path.relative_to(root).as_posix()
                problems.append(
                    f"{where}: {m['head'][1:]}{m['low']},<{m['high']} excludes VERSION "
                    f"{version} (run tools/bump_version.py)"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    problems = find_problems(args.root.resolve())
    if problems:
        print(f"check_repo: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"check_repo: OK ({len(find_packages(args.root.resolve()))} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
