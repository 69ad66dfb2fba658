"""Turn pydantic's per-union-branch error lists into one line per field."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def _type_name(annotation: Any) -> str:
    """Render a field annotation the way a user would write it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation)]
        return " | ".join(dict.fromkeys("None" if n == "NoneType" else n for n in names))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', repr(origin))}[{args}]"
    if annotation is typing.Any:
        return "Any"
    return getattr(annotation, "__name__", repr(annotation))


def summarize_validation_error(model: type[BaseModel], error: ValidationError) -> str:
    """One readable message for a failed model construction.

    Pydantic reports a value that fits no member of a union once per member; users need
    one line saying which field, what it accepts and what it got.
    """
    by_field: dict[str, list[dict[str, Any]]] = {}
    for err in error.errors():
        loc = err.get("loc", ())
        by_field.setdefault(str(loc[0]) if loc else "", []).append(dict(err))
    lines = []
    for field, errs in by_field.items():
        first = errs[0]
        if first.get("type") == "missing":
            lines.append(f"{field}: a value is required")
        elif first.get("type") == "extra_forbidden":
            lines.append(f"{field}: {model.__name__} has no such field")
        elif len(errs) > 1 and field in model.model_fields:
            expected = _type_name(model.model_fields[field].annotation)
            got = first.get("input")
            lines.append(f"{field}: expected {expected}; got {type(got).__name__} {got!r}")
        else:
            msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            where = ".".join(str(p) for p in first.get("loc", ())) or model.__name__
            lines.append(f"{where}: {msg}")
    return f"Invalid {model.__name__}: " + "; ".join(lines)
