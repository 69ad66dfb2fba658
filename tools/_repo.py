"""What the repository tools share: where the packages are and what they hold.

Everything is found from the tree (packages/*/pyproject.toml), never from a list,
so a new distribution is picked up by every tool as soon as its directory exists.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The namespace packages shared by every distribution: never an __init__.py here.
NAMESPACE_DIRS = (("dfm",), ("dfm", "targets"))

_REQ = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*(?P<rest>.*)$"
)


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_version(root: Path = ROOT) -> str:
    return (root / "VERSION").read_text(encoding="utf-8").strip()


@dataclass
class Requirement:
    """A dependency string split just enough for our checks (no marker evaluation)."""

    text: str
    name: str
    specifier: str  # e.g. "==0.1.0" or ">=0.1,<0.2"; without extras and marker

    @classmethod
    def parse(cls, text: str) -> Requirement | None:
        m = _REQ.match(text)
        if m is None:
            return None
        rest = m.group("rest").split(";", 1)[0].strip()
        return cls(text=text, name=normalize(m.group("name")), specifier=rest.replace(" ", ""))


@dataclass
class Package:
    """One distribution directory under packages/."""

    path: Path
    config: dict[str, Any] = field(repr=False)

    @property
    def dir_name(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        return normalize(str(self.config.get("project", {}).get("name", self.path.name)))

    @property
    def hatch(self) -> dict[str, Any]:
        tool: dict[str, Any] = self.config.get("tool", {})
        hatch: dict[str, Any] = tool.get("hatch", {})
        return hatch

    @property
    def wheel_config(self) -> dict[str, Any]:
        wheel: dict[str, Any] = self.hatch.get("build", {}).get("targets", {}).get("wheel", {})
        return wheel

    @property
    def is_meta(self) -> bool:
        """A metadata-only distribution (like dfm-all): no code, only dependencies."""
        return bool(self.wheel_config.get("bypass-selection", False))

    def requirements(self) -> list[Requirement]:
        project = self.config.get("project", {})
        texts: list[str] = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            texts.extend(extra)
        return [r for r in map(Requirement.parse, texts) if r is not None]

    def leaf_dirs(self) -> list[Path]:
        """Top-level import packages of this distribution (src/dfm/x, src/dfm/targets/y)."""
        base = self.path / "src" / "dfm"
        found: list[Path] = []
        if not base.is_dir():
            return found
        for child in sorted(base.iterdir()):
            if not child.is_dir() or child.name == "__pycache__":
                continue
            if child.name == "targets":
                found.extend(
                    t for t in sorted(child.iterdir()) if t.is_dir() and t.name != "__pycache__"
                )
            else:
                found.append(child)
        return found

    def code_leaf_dirs(self) -> list[Path]:
        """Leaf packages that contain Python code (the ones mypy and imports can see)."""
        return [d for d in self.leaf_dirs() if has_python(d)]


def has_python(directory: Path) -> bool:
    return any(p.suffix in (".py", ".pyi") for p in directory.rglob("*") if p.is_file())


def module_name(leaf_dir: Path) -> str:
    """dfm.api for .../src/dfm/api, dfm.targets.local for .../src/dfm/targets/local."""
    parts = leaf_dir.parts
    return ".".join(parts[len(parts) - 1 - parts[::-1].index("dfm") :])


def load_pyproject(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def find_packages(root: Path = ROOT) -> list[Package]:
    """Every packages/<dir> that has a pyproject.toml, sorted by directory name."""
    packages: list[Package] = []
    base = root / "packages"
    if not base.is_dir():
        return packages
    for d in sorted(base.iterdir()):
        pyproject = d / "pyproject.toml"
        if d.is_dir() and pyproject.is_file():
            packages.append(Package(d, load_pyproject(pyproject)))
    return packages


META_PACKAGE = "dfm-all"
"""The metadata-only distribution that pins every other one (``pip install dfm-all``)."""


def meta_package_problems(packages: list[Package], version: str) -> list[str]:
    """What is wrong with the meta-package: missing, or not pinning every distribution.

    The workspace has exactly one meta-package, ``dfm-all``; it holds no code and
    depends with ``==VERSION`` on every other distribution under packages/, and on
    nothing else.
    """
    metas = [p for p in packages if p.is_meta]
    if not metas:
        return [
            f"packages/{META_PACKAGE}: missing; the meta-package (metadata only, "
            "bypass-selection = true) must depend on every distribution"
        ]
    problems = [
        f"packages/{p.dir_name}: a second meta-package; {META_PACKAGE} is the only one"
        for p in metas
        if p.name != META_PACKAGE
    ]
    names = {p.name for p in packages}
    for meta in metas:
        where = f"packages/{meta.dir_name}"
        pinned = {r.name for r in meta.requirements()}
        for name in sorted(names - {meta.name} - pinned):
            problems.append(f"{where}: meta-package does not depend on {name}=={version}")
        for req in meta.requirements():
            if req.name not in names:
                problems.append(
                    f"{where}: meta-package depends on {req.text!r}, which is not a DFM "
                    "distribution (it holds only the pins of the distributions under packages/)"
                )
        if (meta.path / "src").exists():
            problems.append(f"{where}: meta-package has a src/ folder; it holds no code")
    return problems


def sibling_closure(packages: list[Package], name: str) -> list[Package]:
    """The package called ``name`` and every sibling it depends on, transitively."""
    by_name = {p.name: p for p in packages}
    seen: dict[str, Package] = {}
    todo = [normalize(name)]
    while todo:
        current = todo.pop()
        if current in seen or current not in by_name:
            continue
        pkg = by_name[current]
        seen[current] = pkg
        todo.extend(r.name for r in pkg.requirements() if r.name in by_name)
    return [p for p in packages if p.name in seen]


# A third-party plugin's ranged pin on DFM, e.g. "dfm-session>=0.1,<0.2".
PLUGIN_RANGE_RE = re.compile(
    r"""(?P<head>["']dfm-[A-Za-z0-9._-]+>=)(?P<low>\d+(?:\.\d+)*),<(?P<high>\d+(?:\.\d+)*)"""
    r"""(?P<quote>["'])"""
)


def version_tuple(text: str) -> tuple[int, ...]:
    """The leading numeric release of a version: ``"0.2.0rc1"`` → ``(0, 2, 0)``."""
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def minor_range(version: str) -> tuple[str, str]:
    """The range a plugin pins for a lockstep version: ``0.2.x`` → (``0.2``, ``0.3``)."""
    major, minor = (version_tuple(version) + (0, 0))[:2]
    return f"{major}.{minor}", f"{major}.{minor + 1}"
