"""The logical graph of a pipeline: its operations, yields and the edges between them.

Building it is the compiler's validation walk: everything a user can get wrong in the
structure of a pipeline is reported here, as a ``ValueError`` naming the node.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dfm.api import ApiVisitor, NodeRef, Operation, Pipeline, PlaceParam, Statement, Yield

if TYPE_CHECKING:
    from dfm.api import ForEach, If, TryFromCache, WriteToCache


@dataclass
class OpNode:
    """An operation of the pipeline with its inputs sorted by kind."""

    op: Operation
    ident: str
    node_id: int | str
    refs: dict[str, NodeRef] = field(default_factory=dict)
    params: dict[str, PlaceParam] = field(default_factory=dict)
    literals: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)

    @property
    def api_name(self) -> str:
        """The operation's name in the federation config."""
        return type(self.op).__api_name__

    def describe(self) -> str:
        """How errors name this node: ``%0 (users.GreetMe)``."""
        return f"{self.op.dfm_node_id} ({self.api_name})"

    def upstream(self) -> list[str]:
        """Idents of the nodes this one waits for."""
        return [ref.id.as_identifier() for ref in self.refs.values()] + self.after


@dataclass
class YieldNode:
    """A Yield: of a node's value (``ref``), of a parameter, or of a literal."""

    stmt: Yield
    ident: str
    ref: NodeRef | None = None
    param: PlaceParam | None = None


@dataclass
class LogicalGraph:
    """Operations in dependency order, yields, and the places the pipeline uses."""

    ops: dict[str, OpNode] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    yields: list[YieldNode] = field(default_factory=list)
    param_places: set[str] = field(default_factory=set)
    yield_places: set[str] = field(default_factory=set)

    def consumers(self) -> dict[str, list[str]]:
        """For every op, the ops that wait for it."""
        out: dict[str, list[str]] = {ident: [] for ident in self.ops}
        for ident in self.order:
            for up in self.ops[ident].upstream():
                out[up].append(ident)
        return out


_NOT_YET = "is not supported yet by the compiler (it arrives in a later DFM release)"


class _Collector(ApiVisitor):
    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def visit_operation(self, stmt: Operation) -> None:
        self.statements.append(stmt)

    def visit_yield(self, stmt: Yield) -> None:
        self.statements.append(stmt)

    def _unsupported(self, stmt: Statement, what: str) -> None:
        raise ValueError(f"{what} (node {stmt.dfm_node_id}) {_NOT_YET}")

    def visit_if(self, stmt: If) -> None:
        self._unsupported(stmt, "If")

    def visit_for_each(self, stmt: ForEach) -> None:
        self._unsupported(stmt, "ForEach")

    def visit_try_from_cache(self, stmt: TryFromCache) -> None:
        self._unsupported(stmt, "TryFromCache")

    def visit_write_to_cache(self, stmt: WriteToCache) -> None:
        self._unsupported(stmt, "WriteToCache")


class _PlaceUses:
    """Checks the place rules: disjoint yield/param places, multiuse on every reuse."""

    def __init__(self) -> None:
        self.uses: dict[tuple[str, str], list[bool]] = {}

    def add(self, kind: str, place: str, multiuse: bool) -> None:
        self.uses.setdefault((kind, place), []).append(multiuse)

    def check(self) -> tuple[set[str], set[str]]:
        params = {p for kind, p in self.uses if kind == "param"}
        yields = {p for kind, p in self.uses if kind == "yield"}
        both = sorted(params & yields)
        if both:
            raise ValueError(
                f"Place {both[0]!r} is used both by a Yield and by a PlaceParam; a place is "
                "either an input or an output of the pipeline: rename one of them"
            )
        for (kind, place), flags in self.uses.items():
            if len(flags) > 1 and not all(flags):
                what = "Yield place" if kind == "yield" else "PlaceParam"
                raise ValueError(
                    f"{what} {place!r} is used {len(flags)} times; a place used more than once "
                    "must set multiuse=True on every use"
                )
        return params, yields


def _split_inputs(node: OpNode, uses: _PlaceUses) -> None:
    for name, value in node.op.operation_params().items():
        if isinstance(value, NodeRef):
            node.refs[name] = value
        elif isinstance(value, PlaceParam):
            node.params[name] = value
            uses.add("param", value.place, value.multiuse)
        else:
            nested = (
                value.values()
                if isinstance(value, dict)
                else value
                if isinstance(value, (list, tuple))
                else ()
            )
            if any(isinstance(v, (NodeRef, PlaceParam)) for v in nested):
                raise ValueError(
                    f"Parameter {name!r} of {node.describe()} holds a node reference or "
                    "PlaceParam inside a list or dict, which is not supported: pass the node "
                    "(or PlaceParam) directly as the parameter's value"
                )
            node.literals[name] = value


def build_graph(pipeline: Pipeline) -> LogicalGraph:
    """Validate a pipeline's structure and build its logical graph.

    Raises:
        ValueError: naming the node and what is wrong with it.
    """
    collector = _Collector()
    for stmt in pipeline.dfm_body:
        stmt.accept(collector)
    graph = LogicalGraph()
    uses = _PlaceUses()
    seen: dict[str, Statement] = {}
    for stmt in collector.statements:
        ident = stmt.dfm_node_id.as_identifier()
        if ident in seen:
            raise ValueError(
                f"Node id {stmt.dfm_node_id} is used by two statements "
                f"({type(seen[ident]).__name__} and {type(stmt).__name__}); node ids must be "
                "unique (check well_known_id names)"
            )
        seen[ident] = stmt
        if isinstance(stmt, Operation):
            node = OpNode(op=stmt, ident=ident, node_id=stmt.dfm_node_id.ident)
            _split_inputs(node, uses)
            if stmt.dfm_after is not None:
                node.after.append(stmt.dfm_after.as_identifier())
            graph.ops[ident] = node
        elif isinstance(stmt, Yield):
            uses.add("yield", stmt.place, stmt.multiuse)
            y = YieldNode(stmt=stmt, ident=ident)
            if isinstance(stmt.value, NodeRef):
                y.ref = stmt.value
            elif isinstance(stmt.value, PlaceParam):
                y.param = stmt.value
                uses.add("param", stmt.value.place, stmt.value.multiuse)
            if stmt.dfm_after is not None:
                raise ValueError(
                    f"dfm_after on Yield {stmt.dfm_node_id} is not supported: a Yield sends "
                    "as soon as its value exists; put dfm_after on the operation instead"
                )
            graph.yields.append(y)
    graph.param_places, graph.yield_places = uses.check()
    _check_references(graph, seen)
    graph.order = _topological_order(graph)
    return graph


def _check_references(graph: LogicalGraph, seen: dict[str, Statement]) -> None:
    def check(ref_ident: str, user: str, how: str) -> None:
        if ref_ident not in seen:
            raise ValueError(
                f"{user} {how} node {ref_ident!r}, which is not defined in the pipeline "
                "(build the referenced operation inside the same Pipeline)"
            )
        if ref_ident not in graph.ops:
            raise ValueError(
                f"{user} {how} {ref_ident!r}, a {type(seen[ref_ident]).__name__}, which has no "
                "value; only operations can be referenced"
            )

    for node in graph.ops.values():
        for name, ref in node.refs.items():
            check(ref.id.as_identifier(), node.describe(), f"parameter {name!r} references")
        for after in node.after:
            check(after, node.describe(), "has dfm_after")
    for y in graph.yields:
        if y.ref is not None:
            check(y.ref.id.as_identifier(), f"Yield {y.stmt.dfm_node_id}", "yields")


def _topological_order(graph: LogicalGraph) -> list[str]:
    # Kahn's algorithm; among ready nodes the one built first goes first, so the order
    # (and everything derived from it) is the same in every process.
    position = {ident: i for i, ident in enumerate(graph.ops)}
    pending = {ident: len(set(node.upstream())) for ident, node in graph.ops.items()}
    consumers: dict[str, set[str]] = {ident: set() for ident in graph.ops}
    for ident, node in graph.ops.items():
        for up in set(node.upstream()):
            consumers[up].add(ident)
    ready = [position[ident] for ident in graph.ops if pending[ident] == 0]
    heapq.heapify(ready)
    idents = list(graph.ops)
    order: list[str] = []
    while ready:
        ident = idents[heapq.heappop(ready)]
        order.append(ident)
        for user in consumers[ident]:
            pending[user] -= 1
            if pending[user] == 0:
                heapq.heappush(ready, position[user])
    if len(order) != len(graph.ops):
        stuck = [graph.ops[i].describe() for i in graph.ops if pending[i] > 0]
        raise ValueError(f"The pipeline has a dependency cycle among {', '.join(stuck)}")
    return order
