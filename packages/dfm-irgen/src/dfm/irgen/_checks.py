"""Parameter values against the operations' declared JSON Schemas.

Generated operation classes declare ``dfm_param_schemas``. Literals are checked when a
pipeline is compiled; for every PlaceParam the compiler records which parameters its
value feeds and their schemas (:class:`ParamCheck`), so that parameter sets are
checked before a job starts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from dfm.api import Advise, ValueSchema

from ._graph import LogicalGraph
from ._nodes import OpNode


class ParamCheck(BaseModel):
    """One parameter a PlaceParam's value feeds, and the schema the value must match.

    Attributes:
        node: The operation, as errors name it (``%3 (stats.Summarize)``).
        parameter: The operation parameter.
        json_schema: Its JSON Schema (self-contained).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    node: str
    parameter: str
    json_schema: dict[str, Any]


def _schemas(node: OpNode) -> dict[str, Any]:
    declared = getattr(type(node.op), "dfm_param_schemas", None)
    return declared if isinstance(declared, dict) else {}


def _operations(graph: LogicalGraph) -> list[OpNode]:
    # In dependency order (graph.order also lists the blocks).
    return [graph.ops[ident] for ident in graph.order if ident in graph.ops]


def literal_problems(graph: LogicalGraph) -> list[str]:
    """Every literal parameter that does not match its declared schema.

    Returns:
        One message per problem: ``%0 (ops.Scale) parameter 'k': expected integer, got
        float 2.5``.
    """
    problems: list[str] = []
    compiled: dict[int, ValueSchema] = {}
    for node in _operations(graph):
        schemas = _schemas(node)
        order = list(type(node.op).model_fields)
        for name in sorted(node.literals, key=order.index):
            value = node.literals[name]
            schema = schemas.get(name)
            if not schema or isinstance(value, Advise):
                continue
            checker = compiled.setdefault(id(schema), ValueSchema(schema))
            for problem in checker.problems(value):
                problems.append(f"{node.describe()} parameter {name!r}: {problem}")
    return problems


def param_checks(graph: LogicalGraph) -> dict[str, list[ParamCheck]]:
    """For each PlaceParam place, the declared parameters its value feeds.

    Parameters without a schema (any value) are left out, and so are places that feed
    only such parameters or yields.
    """
    checks: dict[str, list[ParamCheck]] = {}
    for node in _operations(graph):
        schemas = _schemas(node)
        order = list(type(node.op).model_fields)
        for name in sorted(node.params, key=order.index):
            param = node.params[name]
            schema = schemas.get(name)
            if schema:
                check = ParamCheck(node=node.describe(), parameter=name, json_schema=schema)
                checks.setdefault(param.place, []).append(check)
    return dict(sorted(checks.items()))
