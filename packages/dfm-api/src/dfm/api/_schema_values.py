"""Value helpers of the schema checker: JSON-Schema types of Python values, messages."""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from ._literal import EncodedLiteral


def got(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def where(path: str) -> str:
    return f"{path}: " if path else ""


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def is_object(v: Any) -> bool:
    return isinstance(v, (Mapping, BaseModel))


def has_class(v: Any, path: str) -> bool:
    """Whether ``v`` is an instance of the class at ``path`` (``pkg.mod.Class``).

    The class is looked up among the modules already imported (checking a value never
    imports anything); a class that is not loaded cannot be checked, so any value is
    accepted for it.
    """
    if any(f"{c.__module__}.{c.__qualname__}" == path for c in type(v).__mro__):
        return True
    module_name, _, name = path.rpartition(".")
    cls = getattr(sys.modules.get(module_name), name, None)
    return not isinstance(cls, type) or isinstance(v, cls)


BUILTIN_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": is_int,
    "number": is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, (list, tuple)),
    "object": is_object,
}


def json_equal(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, 1 is 1.0; containers compare item by item.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def as_mapping(value: Any) -> Mapping[Any, Any]:
    if isinstance(value, BaseModel):
        dumped: Mapping[Any, Any] = value.model_dump(mode="json", by_alias=True)
        return dumped
    return value  # type: ignore[no-any-return]


def is_encoded(value: Any) -> bool:
    """Whether ``value`` is an EncodedLiteral, which is opaque to the checker.

    A pickle or model read from pipeline JSON is checked by the site that decodes it.
    """
    return type(value) is EncodedLiteral


def describe(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "anything" if schema is not False else "nothing"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    names = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    words = []
    for name in names:
        if name == "array" and isinstance(schema.get("items"), Mapping):
            words.append(f"array of {describe(schema['items'])}")
        elif isinstance(name, str) and "." in name:
            words.append(f"a {name}")
        else:
            words.append(str(name))
    if schema.get("nullable") is True and "null" not in words:
        words.append("null")
    for key in ("anyOf", "oneOf"):
        if not words and isinstance(schema.get(key), list):
            words = [describe(s) for s in schema[key]]
    if not words and isinstance(schema.get("$ref"), str):
        words = [schema["$ref"].rsplit("/", 1)[-1]]
    return " or ".join(dict.fromkeys(words)) or "anything"
