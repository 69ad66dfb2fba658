"""The modules a Python file imports, found with ``ast`` (for the layering check).

Seen: ``import`` and ``from … import`` statements anywhere (module level, inside
functions, under ``if TYPE_CHECKING:``), relative imports resolved against the file's
own package, and modules spelled out as string constants in ``importlib.import_module``
or ``__import__`` calls. An import inside ``try: … except ImportError`` (or
``ModuleNotFoundError``) is reported as optional: the code works without it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


@dataclass(frozen=True)
class Imported:
    """One imported module: where, and whether the code runs without it."""

    module: str
    lineno: int
    optional: bool


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kind = handler.type
    names = kind.elts if isinstance(kind, ast.Tuple) else [kind] if kind is not None else []
    return any(isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS for n in names)


def _resolve(module: str | None, level: int, package: str, names: list[str]) -> list[str]:
    if level:
        base = package.split(".")
        if level > 1:
            base = base[: -(level - 1)]
        prefix = ".".join(base)
        module = f"{prefix}.{module}" if module else prefix
    assert module is not None
    # "from dfm import runtime": the names may themselves be modules of a namespace.
    return [module, *(f"{module}.{n}" for n in names if n != "*")]


class _Visitor(ast.NodeVisitor):
    def __init__(self, package: str) -> None:
        self.package = package
        self.found: list[Imported] = []
        self._optional = 0

    def visit_Try(self, node: ast.Try) -> None:
        optional = any(_catches_import_error(h) for h in node.handlers)
        self._optional += optional
        for stmt in node.body:
            self.visit(stmt)
        self._optional -= optional
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    def _add(self, module: str, lineno: int) -> None:
        self.found.append(Imported(module, lineno, self._optional > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        names = [a.name for a in node.names]
        for module in _resolve(node.module, node.level, self.package, names):
            self._add(module, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                text = first.value
                if text.startswith("."):
                    level = len(text) - len(text.lstrip("."))
                    for module in _resolve(text[level:] or None, level, self.package, []):
                        self._add(module, node.lineno)
                else:
                    self._add(text, node.lineno)
        self.generic_visit(node)


def imported_modules(path: Path, package: str) -> list[Imported]:
    """Every module ``path`` imports; ``package`` is the file's own package (for ``.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    visitor = _Visitor(package)
    visitor.visit(tree)
    return visitor.found


def package_of(path: Path, src: Path) -> str:
    """The dotted package a file under ``src/`` belongs to."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    else:
        parts = parts[:-1]
    return ".".join(parts)
