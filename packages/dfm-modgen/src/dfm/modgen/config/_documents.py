"""Reading YAML/JSON documents, with duplicate keys reported instead of dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DocumentError", "parse_text", "read_document"]


class DocumentError(Exception):
    """A document could not be read or parsed.

    Attributes:
        message: What went wrong, with a line number when known.
    """

    def __init__(self, message: str) -> None:
        """Create the error.

        Args:
            message: What went wrong.
        """
        super().__init__(message)
        self.message = message


# libyaml's parser when PyYAML was built with it (much faster); same safe constructor.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictSafeLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader, but a key that appears twice in a mapping is an error."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # Compare scalar keys by tag and text before constructing anything: cheap, and
    # "a" vs "'a'" are the same key (same resolved tag, same text).
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found the key {key_node.value!r} twice",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictSafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DocumentError(f"invalid JSON: found the key {key!r} twice")
        out[key] = value
    return out


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise DocumentError(f"invalid YAML: {problem}{where}") from None
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_json_pairs)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


def parse_text(text: str, *, is_json: bool | None = None) -> Any:
    """Parse a YAML or JSON document.

    Args:
        text: The document.
        is_json: True to parse as JSON, False for YAML, None to guess (JSON when
            the text starts with ``{`` and parses as JSON, YAML otherwise).

    Returns:
        The parsed data.

    Raises:
        DocumentError: On a syntax error or a duplicated key.
    """
    if is_json:
        return _parse_json(text)
    if is_json is None and text.lstrip().startswith("{"):
        try:
            return _parse_json(text)
        except DocumentError:
            pass
    return _parse_yaml(text)


def read_document(path: Path) -> Any:
    """Read and parse a YAML or JSON file (``.json`` files are parsed as JSON).

    Args:
        path: The file.

    Returns:
        The parsed data.

    Raises:
        DocumentError: When the file cannot be read or parsed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"file not found: {path}") from None
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DocumentError(f"cannot read {path}: not UTF-8 text") from None
    return parse_text(text, is_json=path.suffix.lower() == ".json")
