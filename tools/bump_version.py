"""Set the one version number of every DFM distribution.

Usage: python tools/bump_version.py NEW_VERSION [--root DIR] [--dry-run]

Writes VERSION and rewrites every exact sibling pin (``dfm-xxx==X``) to
``dfm-xxx==NEW_VERSION`` in packages/*/pyproject.toml and
tests-integration/plugins/*/pyproject.toml. The ranged dependencies of the test
plugins (``dfm-session>=0.1,<0.2``, as a third-party plugin writes them) move to the
new minor series (``>=0.2,<0.3``), as their authors would.
The files are edited as text, so their layout and comments are kept. It refuses to
bump while the meta-package (packages/dfm-all) does not pin every distribution.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from _repo import (
    PLUGIN_RANGE_RE,
    ROOT,
    find_packages,
    meta_package_problems,
    minor_range,
    read_version,
)

_VERSION_RE = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
# "dfm-name==1.2.3" or "dfm-name[extra] == 1.2.3" up to the closing quote, a ';'
# marker or a ',' (the latter would be a range, which the lookahead rules out).
_PIN_RE = re.compile(
    r"""(?P<head>(?P<quote>["'])dfm-[A-Za-z0-9._-]+\s*(?:\[[^\]]*\])?\s*==\s*)"""
    r"""(?P<version>[A-Za-z0-9.+!_-]+)(?P<tail>\s*(?:;(?:(?!(?P=quote)).)*)?(?P=quote))"""
)

PIN_GLOBS = ("packages/*/pyproject.toml", "tests-integration/plugins/*/pyproject.toml")


def rewrite_pins(text: str, new_version: str) -> str:
    return _PIN_RE.sub(lambda m: f"{m['head']}{new_version}{m['tail']}", text)


def rewrite_plugin_ranges(text: str, new_version: str) -> str:
    low, high = minor_range(new_version)
    return PLUGIN_RANGE_RE.sub(lambda m: f"{m['head']}{low},<{high}{m['quote']}", text)


def bump(root: Path, new_version: str, *, dry_run: bool = False) -> list[Path]:
    """Return the files that changed (or would change, with dry_run)."""
    if not _VERSION_RE.match(new_version):
        raise ValueError(
            f"{new_version!r} is not a public PEP 440 version (like 1.2.0 or 1.2.0rc1)"
        )
    # A release of dfm-all that lacks a distribution would install an incomplete DFM.
    meta = meta_package_problems(find_packages(root), new_version)
    if meta:
        raise ValueError("; ".join(meta) + " (fix the meta-package first)")
    changed: list[Path] = []
    version_file = root / "VERSION"
    if not version_file.is_file() or read_version(root) != new_version:
        changed.append(version_file)
        if not dry_run:
            version_file.write_text(new_version + "\n", encoding="utf-8")
    for pattern in PIN_GLOBS:
        for path in sorted(root.glob(pattern)):
            old = path.read_text(encoding="utf-8")
            new = rewrite_pins(old, new_version)
            if "plugins" in path.parts:
                new = rewrite_plugin_ranges(new, new_version)
            if new != old:
                changed.append(path)
                if not dry_run:
                    path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the new version, e.g. 0.2.0")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument("--dry-run", action="store_true", help="only list what would change")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    old = read_version(root) if (root / "VERSION").is_file() else "(none)"
    try:
        changed = bump(root, args.version, dry_run=args.dry_run)
    except ValueError as e:
        print(f"bump_version: error: {e}", file=sys.stderr)
        return 2
    verb = "would change" if args.dry_run else "changed"
    print(f"bump_version: {old} -> {args.version}: {verb} {len(changed)} file(s)")
    for path in changed:
        print(f"  {path.relative_to(root).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
