"""Replacing a generated folder wholesale without touching unchanged files."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ._errors import GenerationError

__all__ = ["TreeReport", "write_tree"]


@dataclass
class TreeReport:
    """What `write_tree` did.

    Attributes:
        files: Every file of the new tree.
        changed: Files created or whose content changed.
        removed: Files of the old tree that are gone (stale).
    """

    files: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _check(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise GenerationError(f"generated path {rel!r} would leave the generated folder")
    return path


def _existing(target: Path) -> dict[PurePosixPath, Path]:
    if not target.is_dir():
        return {}
    found: dict[PurePosixPath, Path] = {}
    for path in target.rglob("*"):
        rel = PurePosixPath(path.relative_to(target).as_posix())
        if "__pycache__" in rel.parts or not path.is_file():
            continue
        found[rel] = path
    return found


def _same(path: Path | None, data: bytes) -> bool:
    if path is None:
        return False
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def write_tree(target: Path, files: dict[str, str]) -> TreeReport:
    """Make ``target`` contain exactly ``files``.

    When nothing differs, nothing is written. Otherwise the new tree is built in a
    temporary sibling folder (unchanged files are hard-linked or copied with their
    timestamps) and swapped in, so stale files disappear and readers never see a
    half-written tree. ``__pycache__`` folders are ignored when comparing.

    Args:
        target: The folder to replace (e.g. ``<out>/<pkg>/fed``).
        files: Relative POSIX path → text content (written as UTF-8).

    Returns:
        The report.

    Raises:
        GenerationError: When a path would leave ``target``.
    """
    wanted = {_check(rel): text.encode("utf-8") for rel, text in files.items()}
    existing = _existing(target)
    report = TreeReport(files=[target.joinpath(*rel.parts) for rel in sorted(wanted)])
    changed = {rel for rel, data in wanted.items() if not _same(existing.get(rel), data)}
    removed = sorted(rel for rel in existing if rel not in wanted)
    report.changed = [target.joinpath(*rel.parts) for rel in sorted(changed)]
    report.removed = [target.joinpath(*rel.parts) for rel in removed]
    if not changed and not removed:
        return report
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
    retired = staging.with_name(staging.name.replace("-new-", "-old-"))
    try:
        for rel, data in wanted.items():
            dest = staging.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            old = existing.get(rel)
            if old is not None and rel not in changed:
                try:
                    os.link(old, dest)
                except OSError:
                    shutil.copy2(old, dest)
            else:
                dest.write_bytes(data)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
    except BaseException:
        if retired.exists() and not target.exists():
            os.replace(retired, target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return report
