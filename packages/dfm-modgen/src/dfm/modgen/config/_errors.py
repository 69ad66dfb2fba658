"""Configuration errors: one exception that carries every issue found."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "ConfigIssue", "ConfigPath", "format_path"]

#: A logical location inside a federation config: mapping keys and list indices.
ConfigPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Sequence[str | int]) -> str:
    """Render a config path the way a user reads it.

    Keys that look like identifiers are joined with dots; other keys (with dots,
    slashes, spaces ...) are shown as JSON-quoted subscripts, and list indices as
    ``[n]``. For example ``("sites", "reception", "interface",
    "#/operations/users.GreetMe", "args", "venue")`` renders as
    ``sites.reception.interface["#/operations/users.GreetMe"].args.venue``.

    Args:
        path: The keys and indices from the document root.

    Returns:
        The rendered path; ``<root>`` for the empty path.
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _BARE_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out) or "<root>"


@dataclass(frozen=True)
class ConfigIssue:
    """One mistake in a federation config.

    Attributes:
        file: The file that holds the offending text, or None when the config was
            given as a string or a dict.
        path: Where in that file the mistake is, as keys and indices (for text not
            reached through a ``$ref``, also its place in the merged config).
        message: What was expected; for text reached through a ``$ref`` it ends
            with where that text is used in the merged config.
    """

    file: Path | None
    path: ConfigPath
    message: str

    @property
    def path_str(self) -> str:
        """The path rendered by `format_path`."""
        return format_path(self.path)

    def __str__(self) -> str:
        parts = [str(self.file)] if self.file is not None else []
        if self.path:
            parts.append(self.path_str)
        return ": ".join([*parts, self.message])


class ConfigError(Exception):
    """A federation config could not be loaded; lists every issue found.

    Attributes:
        issues: All issues, in the order they were found.
    """

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        """Create the error.

        Args:
            issues: The issues; at least one.
        """
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.issues)
        noun = "issue" if count == 1 else "issues"
        lines = [f"invalid federation config ({count} {noun}):"]
        lines.extend(f"  - {issue}" for issue in self.issues)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()
