"""JSON-Schema bodies: references to declared schemas are kept, others inlined."""

from __future__ import annotations

from typing import Any

from ._context import BuildContext
from ._errors import ConfigPath
from ._refs import Node, RefError, split_ref

__all__ = ["SCHEMA_REF_PREFIX", "normalize_schema", "schema_ref_name"]

#: Normalised references to declared schemas look like ``#/schemas/<name>``.
SCHEMA_REF_PREFIX = "#/schemas/"

# Keywords whose value is a mapping of name → sub-schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
# Keywords whose value is one sub-schema (or, for items, a list of them).
_SCHEMA_ONE = frozenset(
    {"items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames"}
)
# Keywords whose value is a list of sub-schemas.
_SCHEMA_LISTS = frozenset({"oneOf", "anyOf", "allOf", "prefixItems"})


def schema_ref_name(ref: str) -> str | None:
    """The schema name of a normalised reference.

    Args:
        ref: A ``$ref`` value.

    Returns:
        ``<name>`` for ``#/schemas/<name>``, else None.
    """
    if not ref.startswith(SCHEMA_REF_PREFIX):
        return None
    _, tokens = split_ref(ref)
    return tokens[1] if len(tokens) == 2 else None


def normalize_schema(ctx: BuildContext, node: Node, path: ConfigPath) -> Any:
    """Resolve the references inside a JSON-Schema body.

    A ``$ref`` to a schema declared under ``schemas:`` (by any route) becomes
    ``{"$ref": "#/schemas/<name>"}`` so the generator reuses its class; any other
    reference is replaced by its (normalised) target, with sibling keys of the
    ``$ref`` laid over it. Data keywords (``enum``, ``default`` ...) are left alone.

    Args:
        ctx: The build context (issues, resolver, declared schemas).
        node: The schema node.
        path: Its logical path.

    Returns:
        The normalised schema (``{}`` where a reference failed; issue recorded).
    """
    value = node.value
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    ref = value.get("$ref")
    if isinstance(ref, str):
        siblings = {k: v for k, v in value.items() if k != "$ref"}
        out.update(_inline_ref(ctx, node, ref, path))
        sibling_node = Node(siblings, node.src)
        out.update(normalize_schema(ctx, sibling_node, path))
        return out
    for key, sub in value.items():
        child = Node(sub, node.src.child(key))
        if key in _SCHEMA_MAPS and isinstance(sub, dict):
            out[key] = {
                name: normalize_schema(ctx, Node(s, child.src.child(name)), (*path, key, name))
                for name, s in sub.items()
            }
        elif (key in _SCHEMA_LISTS or key == "items") and isinstance(sub, list):
            out[key] = [
                normalize_schema(ctx, Node(s, child.src.child(i)), (*path, key, i))
                for i, s in enumerate(sub)
            ]
        elif key in _SCHEMA_ONE:
            out[key] = normalize_schema(ctx, child, (*path, key))
        else:
            out[key] = sub
    return out


def _inline_ref(ctx: BuildContext, node: Node, ref: str, path: ConfigPath) -> dict[str, Any]:
    name = schema_ref_name(ref)
    declared = name is not None and name in ctx.schema_names
    if declared and node.src.file == ctx.resolver.root().src.file:
        return {"$ref": ref}
    try:
        target = ctx.resolver.resolve(ref, node.src)
    except RefError as exc:
        if declared:  # a fragment file naming one of the federation's schemas
            return {"$ref": ref}
        ctx.ref_issue(node, (*path, "$ref"), exc)
        return {}
    origin = ctx.schema_origins.get(target.src)
    if origin is not None:
        return {"$ref": SCHEMA_REF_PREFIX + origin}
    if not isinstance(target.value, dict):
        ctx.issue(node, (*path, "$ref"), f"$ref {ref!r} must point to a JSON-Schema object")
        return {}
    ctx.used_as(target.src, path, node.src)
    try:
        with ctx.resolver.expanding(target.src, ref):
            inlined = normalize_schema(ctx, target, path)
    except RefError as exc:
        ctx.ref_issue(node, (*path, "$ref"), exc)
        return {}
    return dict(inlined) if isinstance(inlined, dict) else {}
