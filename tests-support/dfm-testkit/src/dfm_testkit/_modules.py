"""Importable test modules written into a folder."""

from __future__ import annotations

import textwrap
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
