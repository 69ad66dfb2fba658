"""docs/pipeline-language.md: every example runs, and prints what the page shows."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "pipeline-language.md"
EXAMPLE = ROOT / "examples" / "meteo"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.S)


def examples() -> list[tuple[str, str | None]]:
    """The page's runnable examples, each with the output the page shows.

    Those are the ``run`` helper and every python block followed by a ``text`` block
    (its output); the Discovery section's snippets are run by examples/meteo/discover.py.
    """
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    out: list[tuple[str, str | None]] = []
    pending: str | None = None
    for kind, body in blocks:
        if kind == "python":
            if "def run(pipeline" in body:
                out.append((body, None))
            pending = body
        elif pending is not None:
            out.append((pending, body))
            pending = None
    return out


@pytest.fixture(scope="module")
def meteo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A generated copy of the meteo federation, importable, with a fresh site cache."""
    root = tmp_path_factory.mktemp("meteo-doc")
    work = root / "meteo_example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("fed"))
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dfm.api._cli import main; sys.exit(main())",
            "gen",
            "meteo.dfm.yaml",
            "--output",
            ".",
        ],
        cwd=work,
        check=True,
        timeout=120,
    )
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    sys.path.insert(0, str(work))
    yield work
    sys.path.remove(str(work))
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved
    for name in [m for m in sys.modules if m == "meteo" or m.startswith("meteo.")]:
        del sys.modules[name]


def test_the_page_has_an_example_per_construct() -> None:
    code = "\n".join(body for body, _ in examples())
    for construct in ("ForEach(", "sequential=True", "Cities(", "If(", "TryFromCache("):
        assert construct in code, construct
    assert len(examples()) >= 8
    assert all(expected is not None for _, expected in examples()[1:])


def test_every_example_prints_what_the_page_shows(meteo_dir: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "pipeline_language_doc"}
    for number, (code, expected) in enumerate(examples()):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"{DOC.name} example {number}", "exec"), namespace)
        if expected is not None:
            assert printed.getvalue() == expected, f"example {number}:\n{code}"
