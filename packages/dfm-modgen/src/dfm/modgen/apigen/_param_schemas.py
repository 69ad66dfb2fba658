"""The JSON Schemas of operation parameters, as generated classes carry them.

Every generated operation class gets ``dfm_param_schemas``: parameter name → a
self-contained JSON Schema (references to declared schemas become ``#/$defs/<name>``
with the schemas they need under ``$defs``). The compiler collects these so that a
session can check parameter values against them before a job starts.
"""

from __future__ import annotations

from typing import Any

from ..config import SCHEMA_REF_PREFIX, ExposeAs, FederationConfig, ParameterSpec

__all__ = ["exposed_schema", "parameter_schema"]

# Keys that only document; they are left out to keep the generated tables small.
_DOC_KEYS = frozenset(
    {"description", "title", "examples", "$comment", "deprecated", "readOnly", "writeOnly"}
)
_DEFS_PREFIX = "#/$defs/"


def _strip(schema: Any, found: set[str]) -> Any:
    if isinstance(schema, list):
        return [_strip(item, found) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DOC_KEYS or (isinstance(key, str) and key.startswith("x-")):
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMA_REF_PREFIX):
            name = value[len(SCHEMA_REF_PREFIX) :]
            found.add(name)
            out[key] = _DEFS_PREFIX + name.replace("~", "~0").replace("/", "~1")
        elif key in ("enum", "const", "default"):
            out[key] = value  # data, not schema
        else:
            out[key] = _strip(value, found)
    return out


def _self_contained(config: FederationConfig, schema: dict[str, Any]) -> dict[str, Any]:
    found: set[str] = set()
    out: dict[str, Any] = _strip(schema, found)
    defs: dict[str, Any] = {}
    pending = sorted(found)
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        more: set[str] = set()
        defs[name] = _strip(config.schemas.get(name, {}), more)
        pending.extend(sorted(more - defs.keys()))
    if defs:
        own = out.get("$defs")
        out["$defs"] = {**(own if isinstance(own, dict) else {}), **dict(sorted(defs.items()))}
    return out


def parameter_schema(
    config: FederationConfig, spec: ParameterSpec, required: bool
) -> dict[str, Any]:
    """The schema a value of an operation parameter must match.

    Args:
        config: The federation config (for declared schemas).
        spec: The parameter spec.
        required: Whether the parameter is required; an optional one also takes None.

    Returns:
        A self-contained JSON Schema (``{}`` when any value goes).
    """
    schema = _self_contained(config, spec.json_schema())
    if not required and schema:
        schema["nullable"] = True
    return schema


def exposed_schema(expose: ExposeAs) -> dict[str, Any]:
    """The schema of an exposed parameter of a site-pinned class (optional: None too).

    Args:
        expose: The ``expose-as`` of an adapter argument.

    Returns:
        The JSON Schema.
    """
    return {"type": list(expose.type), "nullable": True}
