"""Importable test modules written into a folder."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_modules(root: Path, files: dict[str, str]) -> Path:
    """Write ``{"pkg/mod.py": source}`` under ``root`` (dedented, packages get __init__.py).

    Returns:
        ``root``, to put on ``sys.path``.
    """
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = path.parent
        while folder != root and folder.is_relative_to(root):
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text("")
            folder = folder.parent
        path.write_text(textwrap.dedent(source))
    return root


@contextmanager
def importable(root: Path, files: dict[str, str]) -> Iterator[Path]:
    """:func:`write_modules`, with ``root`` on ``sys.path`` until the block ends.

    The modules imported from it are forgotten afterwards, so the next test that writes
    modules of the same names imports its own.
    """
    write_modules(root, files)
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(root)):
                del sys.modules[name]
