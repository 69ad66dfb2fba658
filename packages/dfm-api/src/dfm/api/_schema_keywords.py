"""The keywords of the schema checker: each compiles one JSON-Schema keyword to a check."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._schema_values import as_mapping, describe, got, is_number, is_object, json_equal, where

#: ``check(value, path, problems)`` appends a message per problem found at ``path``.
Check = Callable[[Any, str, list[str]], None]


class Compiler(Protocol):
    """What a keyword needs from the schema being compiled: its sub-schemas compiled."""

    def compile(self, schema: Any) -> Check:
        """Compile a sub-schema."""
        ...


Make = Callable[[Compiler, Mapping[str, Any]], "Check | None"]


def _enum(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    options = schema["enum"]
    if not isinstance(options, list):
        return None
    expected = describe({"enum": options})

    def check(value: Any, path: str, out: list[str]) -> None:
        if not any(json_equal(value, option) for option in options):
            out.append(f"{where(path)}expected {expected}, got {got(value)}")

    return check


def _const(vs: Compiler, schema: Mapping[str, Any]) -> Check:
    expected = schema["const"]

    def check(value: Any, path: str, out: list[str]) -> None:
        if not json_equal(value, expected):
            out.append(f"{where(path)}expected {expected!r}, got {got(value)}")

    return check


def _items(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    items = schema["items"]
    if isinstance(items, list):  # the old tuple form
        return _prefix_checks(vs, items)
    item = vs.compile(items)

    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, (list, tuple)):
            start = len(schema.get("prefixItems") or ()) if "prefixItems" in schema else 0
            for i in range(start, len(value)):
                item(value[i], f"{path}[{i}]", out)

    return check


def _prefix_items(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    items = schema["prefixItems"]
    return _prefix_checks(vs, items) if isinstance(items, list) else None


def _prefix_checks(vs: Compiler, items: list[Any]) -> Check:
    checks = [vs.compile(s) for s in items]

    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, (list, tuple)):
            for i, (one, item) in enumerate(zip(checks, value, strict=False)):
                one(item, f"{path}[{i}]", out)

    return check


def _bound(
    keyword: str, test: Callable[[Any, Any], bool], template: str, size: Callable[[Any], Any]
) -> Make:
    def make(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
        limit = schema[keyword]
        if not is_number(limit):
            return None
        expected = template.format(limit)

        def check(value: Any, path: str, out: list[str]) -> None:
            measured = size(value)
            if measured is not None and not test(measured, limit):
                out.append(f"{where(path)}expected {expected}, got {got(value)}")

        return check

    return make


def _number(v: Any) -> Any:
    return v if is_number(v) else None


def _length(v: Any) -> Any:
    return len(v) if isinstance(v, str) else None


def _count(v: Any) -> Any:
    return len(v) if isinstance(v, (list, tuple)) else None


def _multiple_of(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    step = schema["multipleOf"]
    if not is_number(step) or step <= 0:
        return None

    def check(value: Any, path: str, out: list[str]) -> None:
        if is_number(value) and math.isfinite(value):
            quotient = value / step
            if not math.isclose(quotient, round(quotient), rel_tol=1e-12, abs_tol=1e-12):
                out.append(f"{where(path)}expected a multiple of {step}, got {got(value)}")

    return check


def _pattern(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    try:
        regex = re.compile(schema["pattern"])
    except (re.error, TypeError):
        return None

    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, str) and regex.search(value) is None:
            out.append(
                f"{where(path)}expected a string matching {regex.pattern!r}, got {got(value)}"
            )

    return check


def _properties(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return None
    compiled = {name: vs.compile(sub) for name, sub in props.items()}

    def check(value: Any, path: str, out: list[str]) -> None:
        if not is_object(value):
            return
        data = as_mapping(value)
        for name, one in compiled.items():
            if name in data:
                one(data[name], f"{path}.{name}", out)

    return check


def _required(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    names = schema["required"]
    if not isinstance(names, list):
        return None

    def check(value: Any, path: str, out: list[str]) -> None:
        if not is_object(value):
            return
        data = as_mapping(value)
        for name in names:
            if name not in data:
                out.append(f"{where(path)}missing required property {name!r}")

    return check


def _additional(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    extra = schema["additionalProperties"]
    known = set(schema.get("properties") or ())
    sub = None if extra is False else vs.compile(extra)

    def check(value: Any, path: str, out: list[str]) -> None:
        if not is_object(value):
            return
        for key, item in as_mapping(value).items():
            if not isinstance(key, str):
                out.append(f"{where(path)}object keys must be strings, got {got(key)}")
            elif key not in known:
                if sub is None:
                    out.append(f"{where(path)}unexpected property {key!r}")
                else:
                    sub(item, f"{path}.{key}", out)

    return check


def _any_of(keyword: str) -> Make:
    def make(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
        options = schema[keyword]
        if not isinstance(options, list) or not options:
            return None
        checks = [vs.compile(s) for s in options]
        expected = " or ".join(dict.fromkeys(describe(s) for s in options))

        def check(value: Any, path: str, out: list[str]) -> None:
            for one in checks:
                trial: list[str] = []
                one(value, path, trial)
                if not trial:
                    return
            out.append(f"{where(path)}expected {expected}, got {got(value)}")

        return check

    return make


def _all_of(vs: Compiler, schema: Mapping[str, Any]) -> Check | None:
    options = schema["allOf"]
    if not isinstance(options, list):
        return None
    checks = [vs.compile(s) for s in options]

    def check(value: Any, path: str, out: list[str]) -> None:
        for one in checks:
            one(value, path, out)

    return check


def _not(vs: Compiler, schema: Mapping[str, Any]) -> Check:
    inner = vs.compile(schema["not"])
    what = describe(schema["not"])

    def check(value: Any, path: str, out: list[str]) -> None:
        trial: list[str] = []
        inner(value, path, trial)
        if not trial:
            out.append(f"{where(path)}expected anything but {what}, got {got(value)}")

    return check


KEYWORDS: dict[str, Make] = {
    "enum": _enum,
    "const": _const,
    "prefixItems": _prefix_items,
    "items": _items,
    "minItems": _bound("minItems", lambda n, lim: n >= lim, "at least {} items", _count),
    "maxItems": _bound("maxItems", lambda n, lim: n <= lim, "at most {} items", _count),
    "minLength": _bound("minLength", lambda n, lim: n >= lim, "at least {} characters", _length),
    "maxLength": _bound("maxLength", lambda n, lim: n <= lim, "at most {} characters", _length),
    "minimum": _bound("minimum", lambda n, lim: n >= lim, "a number >= {}", _number),
    "maximum": _bound("maximum", lambda n, lim: n <= lim, "a number <= {}", _number),
    "exclusiveMinimum": _bound(
        "exclusiveMinimum", lambda n, lim: n > lim, "a number > {}", _number
    ),  # noqa: E501
    "exclusiveMaximum": _bound(
        "exclusiveMaximum", lambda n, lim: n < lim, "a number < {}", _number
    ),  # noqa: E501
    "multipleOf": _multiple_of,
    "pattern": _pattern,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "anyOf": _any_of("anyOf"),
    "oneOf": _any_of("oneOf"),
    "allOf": _all_of,
    "not": _not,
}
