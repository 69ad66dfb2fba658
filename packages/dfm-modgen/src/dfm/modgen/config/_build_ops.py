"""Building ``schemas:`` and ``operations:`` from raw nodes."""

from __future__ import annotations

from typing import Any

from ._context import BuildContext
from ._errors import ConfigPath
from ._operations import (
    OperationConfig,
    ParameterSpec,
    check_operation_name,
    check_parameter_name,
    parameter_problems,
)
from ._refs import Node, RefError
from ._schemas import SCHEMA_REF_PREFIX, normalize_schema, schema_ref_name

__all__ = ["build_operations", "build_schemas"]


def build_schemas(ctx: BuildContext, node: Node) -> dict[str, dict[str, Any]]:
    """Build ``schemas:``: resolve entries, record where each lives, normalise bodies.

    Args:
        ctx: The build context.
        node: The ``schemas`` node.

    Returns:
        Schema name → normalised JSON-Schema object.
    """
    path: ConfigPath = ("schemas",)
    declared: dict[str, Node] = {}
    bad_names: set[str] = set()
    for name, entry in ctx.entries(node, path, "schemas"):
        problem = check_operation_name(name)
        if problem is not None:
            ctx.issue(entry, (*path, name), problem.replace("operation", "schema", 1))
            bad_names.add(name)
        # Declared even when wrong, so that references to it are no further mistakes.
        ctx.schema_names.add(name)
        target = ctx.deref(entry, (*path, name))
        if target is None or ctx.mapping(target, (*path, name), "a JSON-Schema object") is None:
            continue
        declared[name] = target
        ctx.schema_origins.setdefault(target.src, name)
    schemas = {
        name: normalize_schema(ctx, target, (*path, name)) for name, target in declared.items()
    }
    return {name: schema for name, schema in schemas.items() if name not in bad_names}


def build_operations(ctx: BuildContext, node: Node) -> dict[str, OperationConfig]:
    """Build ``operations:``.

    Args:
        ctx: The build context; every declared name is recorded in
            ``ctx.operation_names`` and every valid operation in ``ctx.operations``.
        node: The ``operations`` node.

    Returns:
        Operation name → operation, for the valid ones.
    """
    path: ConfigPath = ("operations",)
    entries, ctx.operations_complete = ctx.entries_checked(node, path, "operations")
    for name, entry in entries:
        ctx.operation_names.add(name)
        ctx.operation_params[name] = None
        problem = check_operation_name(name)
        if problem is not None:
            ctx.issue(entry, (*path, name), problem)
        target = ctx.deref(entry, (*path, name))
        if target is not None:
            op = _build_operation(ctx, target, (*path, name), name)
            if op is not None and problem is None:
                ctx.operations[name] = op
    _check_method_names(ctx)
    return dict(ctx.operations)


def _check_method_names(ctx: BuildContext) -> None:
    # call_<op with dots as underscores> must identify one operation.
    seen: dict[str, str] = {}
    for name in sorted(ctx.operation_names):
        method = name.replace(".", "_")
        if method in seen:
            ctx.issue(
                ctx.resolver.root(),
                ("operations", name),
                f"operations {seen[method]!r} and {name!r} would both get the site method "
                f"call_{method}; rename one",
            )
        seen.setdefault(method, name)


def _build_operation(
    ctx: BuildContext, node: Node, path: ConfigPath, name: str
) -> OperationConfig | None:
    data = ctx.mapping(node, path, "an operation")
    if data is None:
        return None
    keys = [k for k in ("parameters", "properties") if k in data]
    complete = len(keys) < 2
    if not complete:
        ctx.issue(
            node, path, "give 'parameters' or its JSON-Schema spelling 'properties', not both"
        )
    key = keys[0] if keys else "parameters"
    entries, ok = ctx.entries_checked(
        Node(data.get(key), node.src.child(key)), (*path, key), "parameters"
    )
    # Every declared name counts, also of a parameter with a mistake: a binding
    # naming it is no further mistake.
    ctx.operation_params[name] = frozenset(p for p, _ in entries) if complete and ok else None
    params: dict[str, ParameterSpec] = {}
    for pname, entry in entries:
        problem = check_parameter_name(pname)
        if problem is not None:
            ctx.issue(entry, (*path, key, pname), problem)
        spec = _build_parameter(ctx, entry, (*path, key, pname))
        if spec is not None and problem is None:
            params[pname] = spec
    shell = {k: v for k, v in data.items() if k not in ("parameters", "properties")}
    op = ctx.validate(OperationConfig, shell, node, path)
    return None if op is None else op.model_copy(update={"parameters": params})


def _build_parameter(ctx: BuildContext, node: Node, path: ConfigPath) -> ParameterSpec | None:
    value = node.value
    if not isinstance(value, dict):
        ctx.issue(node, path, f"expected a parameter spec (a mapping), got {value!r}")
        return None
    ref = value.get("$ref")
    if isinstance(ref, str) and schema_ref_name(ref) not in ctx.schema_names:
        data = _inline_parameter_ref(ctx, node, ref, path)
        if data is None:
            return None
    else:
        data = normalize_schema(ctx, node, path)
    if isinstance(data.get("$ref"), str) and not data["$ref"].startswith(SCHEMA_REF_PREFIX):
        ctx.issue(node, (*path, "$ref"), f"unresolved $ref {data['$ref']!r}")
        return None
    spec = ctx.validate(ParameterSpec, data, node, path)
    problems = parameter_problems(data)
    for message in problems:
        ctx.issue(node, path, message)
    return None if problems else spec


def _inline_parameter_ref(
    ctx: BuildContext, node: Node, ref: str, path: ConfigPath
) -> dict[str, Any] | None:
    # A parameter that is a reference: either to a declared schema (kept as a type
    # reference by normalize_schema) or to another parameter spec / JSON-Schema,
    # which is copied in with the sibling keys laid over it.
    try:
        target = ctx.resolver.resolve(ref, node.src)
    except RefError as exc:
        ctx.ref_issue(node, (*path, "$ref"), exc)
        return None
    if target.src in ctx.schema_origins:
        return dict(normalize_schema(ctx, node, path))
    if not isinstance(target.value, dict):
        ctx.issue(node, (*path, "$ref"), f"$ref {ref!r} must point to a parameter spec (a mapping)")
        return None
    siblings = {k: v for k, v in node.value.items() if k != "$ref"}
    ctx.used_as(target.src, path, node.src)
    try:
        with ctx.resolver.expanding(target.src, ref):
            base = normalize_schema(ctx, target, path)
    except RefError as exc:
        ctx.ref_issue(node, (*path, "$ref"), exc)
        return None
    return {**base, **normalize_schema(ctx, Node(siblings, node.src), path)}
