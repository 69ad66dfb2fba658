"""Helpers that write Python source laid out the way ruff/black would format it."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "LINE_LENGTH",
    "Imports",
    "annotated_field",
    "assignment",
    "call",
    "literal_field",
    "docstring",
    "py_literal",
    "py_string",
]

#: Generated code fits ruff's default line length, so it is format-clean with or
#: without a project config.
LINE_LENGTH = 88

_STDLIB = frozenset({"__future__", "collections.abc", "contextlib", "inspect", "logging", "typing"})


def py_string(text: str) -> str:
    """A double-quoted Python string literal.

    Args:
        text: The string.

    Returns:
        Source text that evaluates to ``text``.
    """
    return json.dumps(text, ensure_ascii=False)


def _flat_literal(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, str):
        return py_string(value)
    if isinstance(value, list | tuple):
        inner = ", ".join(_flat_literal(v) for v in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{_flat_literal(k)}: {_flat_literal(v)}" for k, v in value.items())
            + "}"
        )
    raise TypeError(f"cannot write {type(value).__name__} as a Python literal")


def py_literal(value: Any, indent: int = 0, prefix_len: int = 0) -> str:
    """A Python literal for a JSON-like value, exploded black-style when too long.

    Args:
        value: None, bool, int, float, str, list, tuple or dict (recursively).
        indent: Indentation of the line the literal starts on.
        prefix_len: Characters on that line before the literal.

    Returns:
        Source text (possibly several lines) that evaluates to ``value``.
    """
    flat = _flat_literal(value)
    if indent + prefix_len + len(flat) <= LINE_LENGTH or not isinstance(value, list | dict):
        return flat
    if not value:
        return flat
    pad = " " * (indent + 4)
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            key = _flat_literal(k) + ": "
            lines.append(f"{pad}{key}{py_literal(v, indent + 4, len(key))},")
        return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
    for item in value:
        lines.append(f"{pad}{py_literal(item, indent + 4)},")
    return "[\n" + "\n".join(lines) + "\n" + " " * indent + "]"


def assignment(target: str, value: str, indent: int) -> str:
    """``target = value``, with the value parenthesised onto its own line if needed.

    Args:
        target: Left-hand side, including an annotation if any.
        value: Right-hand side (a single-line atom).
        indent: Indentation in spaces.

    Returns:
        The statement, one or three lines, without a trailing newline.
    """
    pad = " " * indent
    line = f"{pad}{target} = {value}"
    if len(line) <= LINE_LENGTH or "\n" in value:
        return line
    if indent + 4 + len(value) <= LINE_LENGTH:
        return f"{pad}{target} = (\n{pad}    {value}\n{pad})"
    return line


def literal_field(name: str, literal: str, value: str, indent: int, pragma: str = "") -> str:
    """``name: Literal["value"] = "value"``, laid out like ruff formats it.

    Args:
        name: The field name.
        literal: The local name of ``typing.Literal``.
        value: The value (a Python string).
        indent: Indentation in spaces.
        pragma: A trailing comment such as ``# type: ignore[assignment]``; it goes
            on the value's line (where mypy reports) and does not count for width.

    Returns:
        The statement without a trailing newline.
    """
    pad = " " * indent
    text = py_string(value)
    tail = f"  {pragma}" if pragma else ""
    head = f"{pad}{name}: {literal}[{text}] = "
    if len(head) + len(text) <= LINE_LENGTH:
        return f"{head}{text}{tail}"
    if len(head) + 1 <= LINE_LENGTH:
        return f"{head}(\n{pad}    {text}{tail}\n{pad})"
    return f"{pad}{name}: {literal}[\n{pad}    {text}\n{pad}] = {text}{tail}"


def call(prefix: str, func: str, args: Sequence[str], suffix: str, indent: int) -> str:
    """``<prefix>func(args)<suffix>``, split black-style when too long.

    Args:
        prefix: Text before the call (e.g. ``x = `` or ``with ``).
        func: The callee.
        args: Argument sources.
        suffix: Text after the closing parenthesis (e.g. ``:``).
        indent: Indentation in spaces.

    Returns:
        The statement without a trailing newline.
    """
    pad = " " * indent
    joined = ", ".join(args)
    line = f"{pad}{prefix}{func}({joined}){suffix}"
    if len(line) <= LINE_LENGTH:
        return line
    if len(pad) + 4 + len(joined) <= LINE_LENGTH:
        return f"{pad}{prefix}{func}(\n{pad}    {joined}\n{pad}){suffix}"
    body = "".join(f"{pad}    {a},\n" for a in args)
    return f"{pad}{prefix}{func}(\n{body}{pad}){suffix}"


def annotated_field(name: str, members: Sequence[str], default: str | None, indent: int) -> str:
    """``name: A | B | C = default`` laid out like ruff formats long annotations.

    Args:
        name: The field name.
        members: The union members, in order.
        default: Source of the default value, or None for a required field.
        indent: Indentation in spaces.

    Returns:
        The statement without a trailing newline.
    """
    pad = " " * indent
    annotation = " | ".join(members)
    tail = f" = {default}" if default is not None and "\n" not in default else ""
    line = f"{pad}{name}: {annotation}{tail}"
    if len(line) <= LINE_LENGTH and (default is None or "\n" not in default):
        return line
    if default is not None and "\n" in default:
        return f"{pad}{name}: {annotation} = {default}"
    inner = f"{pad}    {annotation}"
    if len(inner) <= LINE_LENGTH:
        return f"{pad}{name}: (\n{inner}\n{pad}){tail}"
    body = "\n".join(f"{pad}    {'| ' if i else ''}{m}" for i, m in enumerate(members))
    return f"{pad}{name}: (\n{body}\n{pad}){tail}"


def docstring(text: str, indent: int) -> str:
    """A triple-quoted docstring, wrapped to the line length.

    Paragraphs (separated by blank lines) are wrapped independently; lines that
    start with spaces (continuations of indented blocks) keep their indentation.

    Args:
        text: The docstring text; its first line is the summary.
        indent: Indentation in spaces.

    Returns:
        The docstring statement without a trailing newline.
    """
    pad = " " * indent
    safe = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    if safe.endswith('"'):
        safe += " "
    width = LINE_LENGTH - indent - 3
    lines: list[str] = []
    for raw in safe.split("\n"):
        stripped = raw.rstrip()
        if not stripped:
            lines.append("")
            continue
        lead = len(stripped) - len(stripped.lstrip())
        wrapped = textwrap.wrap(
            stripped.strip(),
            width=max(width - lead, 20),
            break_long_words=False,
            break_on_hyphens=False,
        )
        first_extra = 4 if lead else 0
        for i, chunk in enumerate(wrapped):
            extra = first_extra if i else 0
            lines.append(" " * (lead + extra) + chunk)
    if len(lines) == 1:
        return f'{pad}"""{lines[0]}"""'
    body = "\n".join(f"{pad}{line}" if line else "" for line in lines[1:])
    return f'{pad}"""{lines[0]}\n{body}\n{pad}"""'


class Imports:
    """Collects the imports of one generated module and picks collision-free names.

    Args:
        reserved: Names the module defines itself.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._taken: set[str] = set(reserved)
        self._from: dict[str, dict[str, str]] = {}
        self._modules: set[str] = set()

    def name(self, module: str, name: str) -> str:
        """Import ``name`` from ``module`` and return the local name to use.

        Args:
            module: Dotted module path.
            name: The imported name.

        Returns:
            ``name``, or ``name_<n>`` when ``name`` is taken by something else.
        """
        names = self._from.setdefault(module, {})
        if name in names:
            return names[name]
        local = name
        counter = 0
        while local in self._taken:
            counter += 1
            local = f"{name}_{counter}"
        self._taken.add(local)
        names[name] = local
        return local

    def module(self, module: str) -> None:
        """Add ``import module``.

        Args:
            module: Dotted module path.
        """
        self._modules.add(module)
        self._taken.add(module.split(".")[0])

    def top_level_modules(self) -> set[str]:
        """The names bound by the plain ``import a.b`` lines (``a``).

        Returns:
            The first components of the imported modules.
        """
        return {m.split(".")[0] for m in self._modules}

    def render(self) -> str:
        """The import block: ``__future__``, standard library, then the rest.

        Returns:
            The import lines (groups separated by a blank line), or ``""``.
        """
        groups: list[list[str]] = [[], [], []]
        entries: list[tuple[str, str]] = [(m, f"import {m}") for m in self._modules]
        for module, names in self._from.items():
            parts = sorted(
                (n if n == local else f"{n} as {local}" for n, local in names.items()),
                key=lambda s: (s.split(" ")[0].lower(), s),
            )
            entries.append((module, _from_line(module, parts)))
        for module, line in sorted(entries, key=lambda e: (e[1].startswith("from"), e[0])):
            group = 0 if module == "__future__" else 1 if module in _STDLIB else 2
            groups[group].append(line)
        return "\n\n".join("\n".join(g) for g in groups if g)


def _from_line(module: str, parts: list[str]) -> str:
    line = f"from {module} import {', '.join(parts)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"    {p},\n" for p in parts)
    return f"from {module} import (\n{body})"
