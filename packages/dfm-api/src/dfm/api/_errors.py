"""Turn pydantic's per-union-branch error lists into one line per field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or repr(annotation)
    for noise in ("typing.", "dfm.api._statement.", "dfm.api._markers.", "dfm.api._node."):
        text = text.replace(noise, "")
    return text


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
