"""The logical graph of a pipeline: its nodes, the blocks they sit in, and their inputs.

Building it is the compiler's validation walk: everything a user can get wrong in the
structure of a pipeline is reported here, as a ``ValueError`` naming the node and the
fix. The scope rules (which node may use which value) are in ``_scopes``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dfm.api import NodeRef, Operation, Pipeline, PlaceParam, Statement, Yield, describe_node

from ._nodes import (
    BlockNode,
    CacheNode,
    ForEachNode,
    IfNode,
    OpNode,
    Scope,
    YieldNode,
    condition_inputs,
)
from ._scopes import check_reference

if TYPE_CHECKING:
    from dfm.api import ForEach, If, TryFromCache, WriteToCache


@dataclass
class LogicalGraph:
    """Every node of the pipeline, its blocks, and the places it uses.

    ``order`` lists the operations and blocks in dependency order (producers first).
    """

    ops: dict[str, OpNode] = field(default_factory=dict)
    blocks: dict[str, BlockNode] = field(default_factory=dict)
    yields: list[YieldNode] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    param_places: set[str] = field(default_factory=set)
    yield_places: set[str] = field(default_factory=set)
    root: Scope = field(default_factory=Scope.root)

    def node(self, ident: str) -> OpNode | BlockNode:
        """The operation or block named ``ident``."""
        return self.ops.get(ident) or self.blocks[ident]

    def has_blocks(self) -> bool:
        """Whether the pipeline uses any block."""
        return bool(self.blocks)


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


class _Builder:
    """Walks the pipeline's blocks, creating nodes in their scopes."""

    def __init__(self, graph: LogicalGraph) -> None:
        self.graph = graph
        self.uses = _PlaceUses()
        self.seen: dict[str, Statement] = {}
        self.scope_of: dict[str, Scope] = {}
        self.writes: list[tuple[WriteToCache, Scope]] = []

    def claim(self, stmt: Statement, scope: Scope) -> str:
        ident = stmt.dfm_node_id.as_identifier()
        if ident in self.seen:
            raise ValueError(
                f"Node id {stmt.dfm_node_id.ident} is used by two statements "
                f"({type(self.seen[ident]).__name__} and {type(stmt).__name__}); node ids must "
                "be unique (check well_known_id names)"
            )
        self.seen[ident] = stmt
        self.scope_of[ident] = scope
        self.graph.built.append(ident)
        return ident

    def walk(self, body: list[Statement], scope: Scope) -> None:
        from dfm.api import ForEach, If, TryFromCache, WriteToCache

        for stmt in body:
            if isinstance(stmt, Operation):
                self.operation(stmt, scope)
            elif isinstance(stmt, Yield):
                self.yield_(stmt, scope)
            elif isinstance(stmt, ForEach):
                self.for_each(stmt, scope)
            elif isinstance(stmt, If):
                self.if_(stmt, scope)
            elif isinstance(stmt, TryFromCache):
                self.try_from_cache(stmt, scope)
            elif isinstance(stmt, WriteToCache):
                self.claim(stmt, scope)
                self.writes.append((stmt, scope))
            else:
                what = describe_node(type(stmt).__name__, stmt.dfm_node_id.ident)
                raise ValueError(
                    f"{what} is not a statement the compiler "
                    "knows (operations, Yield, ForEach, If, TryFromCache and .cache())"
                )

    def operation(self, stmt: Operation, scope: Scope) -> None:
        ident = self.claim(stmt, scope)
        node = OpNode(op=stmt, ident=ident, node_id=stmt.dfm_node_id.ident, scope=scope)
        _split_inputs(node, self.uses)
        if stmt.dfm_after is not None:
            node.after.append(stmt.dfm_after.as_identifier())
        self.graph.ops[ident] = node

    def yield_(self, stmt: Yield, scope: Scope) -> None:
        ident = self.claim(stmt, scope)
        self.uses.add("yield", stmt.place, stmt.multiuse)
        y = YieldNode(stmt=stmt, ident=ident, scope=scope)
        if isinstance(stmt.value, NodeRef):
            y.ref = stmt.value
        elif isinstance(stmt.value, PlaceParam):
            y.param = stmt.value
            self.uses.add("param", stmt.value.place, stmt.value.multiuse)
        if stmt.dfm_after is not None:
            where = describe_node("Yield", stmt.dfm_node_id.ident)
            raise ValueError(
                f"dfm_after on {where} is not supported: a Yield sends "
                "as soon as its value exists; put dfm_after on the operation instead"
            )
        self.graph.yields.append(y)

    def _no_after(self, stmt: Statement, what: str) -> None:
        if stmt.dfm_after is not None:
            where = describe_node(what, stmt.dfm_node_id.ident)
            raise ValueError(
                f"dfm_after on {where} is not supported: put dfm_after on "
                "the first operation inside the block instead"
            )

    def for_each(self, stmt: ForEach, scope: Scope) -> None:
        ident = self.claim(stmt, scope)
        self._no_after(stmt, "ForEach")
        body = scope.child("for_each", ident, describe_node("ForEach", stmt.dfm_node_id.ident))
        node = ForEachNode(
            stmt=stmt,
            ident=ident,
            node_id=stmt.dfm_node_id.ident,
            scope=scope,
            body=body,
            sequential=stmt.sequential,
        )
        if isinstance(stmt.seq, PlaceParam):
            node.param = stmt.seq
            self.uses.add("param", stmt.seq.place, stmt.seq.multiuse)
        else:
            node.ref = stmt.seq
        self.graph.blocks[ident] = node
        self.walk(stmt.dfm_body, body)

    def if_(self, stmt: If, scope: Scope) -> None:
        ident = self.claim(stmt, scope)
        self._no_after(stmt, "If")
        body = scope.child("if", ident, describe_node("If", stmt.dfm_node_id.ident))
        node = IfNode(
            stmt=stmt, ident=ident, node_id=stmt.dfm_node_id.ident, scope=scope, body=body
        )
        node.refs, node.params = condition_inputs(stmt.cond, node.describe())
        for param in node.params:
            self.uses.add("param", param.place, param.multiuse)
        self.graph.blocks[ident] = node
        self.walk(stmt.dfm_body, body)

    def try_from_cache(self, stmt: TryFromCache, scope: Scope) -> None:
        ident = self.claim(stmt, scope)
        self._no_after(stmt, "TryFromCache")
        body = scope.child("cache", ident, describe_node("TryFromCache", stmt.dfm_node_id.ident))
        node = CacheNode(
            stmt=stmt, ident=ident, node_id=stmt.dfm_node_id.ident, scope=scope, body=body
        )
        key = stmt.key
        if isinstance(key, NodeRef):
            node.key_ref = key
        elif isinstance(key, PlaceParam):
            node.key_param = key
            self.uses.add("param", key.place, key.multiuse)
        else:
            node.key_literal = _json_key(key, node.describe())
        self.graph.blocks[ident] = node
        self.walk(stmt.dfm_body, body)

    def attach_writes(self) -> None:
        for write, scope in self.writes:
            where = describe_node("WriteToCache", write.dfm_node_id.ident)
            block = scope.block
            node = self.graph.blocks.get(block) if block is not None else None
            if not isinstance(node, CacheNode) or scope is not node.body:
                raise ValueError(
                    f"{where} (from .cache()) must be directly inside the body of the "
                    "TryFromCache whose .cache() made it: call cached.cache(value) inside "
                    "`with TryFromCache(key=...) as cached:`"
                )
            if write.key != node.stmt.key:
                raise ValueError(
                    f"{where} has key {write.key!r} but its block {node.describe()} has key "
                    f"{node.stmt.key!r}: build it with cached.cache(value)"
                )
            if node.write is not None:
                raise ValueError(
                    f"{node.describe()} calls .cache() twice (nodes "
                    f"{node.write.stmt.dfm_node_id.ident} and {write.dfm_node_id.ident}): cache "
                    "one value per block"
                )
            node.write = _write_node(write, scope)
            if node.write.param is not None:
                self.uses.add("param", node.write.param.place, node.write.param.multiuse)
        for node in self.graph.blocks.values():
            if isinstance(node, CacheNode) and node.write is None:
                raise ValueError(
                    f"{node.describe()} never calls .cache(value) in its body, so on a miss "
                    "it has no value: add `cached.cache(v)` for the value to cache"
                )


def _write_node(write: WriteToCache, scope: Scope) -> Any:
    from ._nodes import WriteNode

    node = WriteNode(stmt=write, scope=scope)
    value = write.value
    if isinstance(value, NodeRef):
        node.ref = value
    elif isinstance(value, PlaceParam):
        node.param = value
    else:
        node.literal = value
    return node


def _json_key(key: Any, where: str) -> Any:
    from ._nodes import canonical_json

    try:
        canonical_json(key)
    except ValueError as e:
        raise ValueError(
            f"The key of {where} is not a JSON value ({e}): use a str, number, bool, None, "
            "or lists and str-keyed dicts of them"
        ) from None
    return key


def build_graph(pipeline: Pipeline) -> LogicalGraph:
    """Validate a pipeline's structure and build its logical graph.

    Raises:
        ValueError: naming the node, what is wrong with it, and how to fix it.
    """
    graph = LogicalGraph()
    builder = _Builder(graph)
    builder.walk(pipeline.dfm_body, graph.root)
    builder.attach_writes()
    graph.param_places, graph.yield_places = builder.uses.check()
    _check_references(graph, builder)
    graph.order = _topological_order(graph)
    return graph


def _check_references(graph: LogicalGraph, builder: _Builder) -> None:
    def check(ref: NodeRef | str, user: str, how: str, scope: Scope) -> None:
        ident = ref if isinstance(ref, str) else ref.id.as_identifier()
        stmt = builder.seen.get(ident)
        if stmt is None:
            raise ValueError(
                f"{user} {how} node {ident!r}, which is not defined in the pipeline "
                "(build the referenced operation inside the same Pipeline)"
            )
        producer = graph.ops.get(ident) or graph.blocks.get(ident)
        if producer is None or isinstance(producer, IfNode):
            raise ValueError(
                f"{user} {how} {ident!r}, a {type(stmt).__name__}, which has no value; only "
                "operations, ForEach elements and TryFromCache results can be used"
            )
        check_reference(producer, scope, user, how)

    for node in graph.ops.values():
        for name, ref in node.refs.items():
            check(ref, node.describe(), f"parameter {name!r} uses", node.scope)
        for after in node.after:
            check(after, node.describe(), "has dfm_after on", node.scope)
            if after not in graph.ops:
                raise ValueError(
                    f"{node.describe()} has dfm_after on {after!r}, which is not an operation; "
                    "dfm_after orders an operation after another operation"
                )
    for y in graph.yields:
        if y.ref is not None:
            check(y.ref, describe_node("Yield", y.stmt.dfm_node_id.ident), "yields", y.scope)
    for block in graph.blocks.values():
        if isinstance(block, ForEachNode) and block.ref is not None:
            check(block.ref, block.describe(), "iterates over", block.scope)
        elif isinstance(block, IfNode):
            for ref in block.refs:
                check(ref, block.describe(), "has a condition over", block.scope)
        elif isinstance(block, CacheNode):
            if block.key_ref is not None:
                check(block.key_ref, block.describe(), "has a key from", block.scope)
            assert block.write is not None
            if block.write.ref is not None:
                check(block.write.ref, block.describe(), "caches", block.write.scope)


def _topological_order(graph: LogicalGraph) -> list[str]:
    # Kahn's algorithm over operations and blocks; among ready nodes the one built first
    # goes first, so the order (and everything derived from it) is the same everywhere.
    nodes: dict[str, OpNode | BlockNode] = {
        ident: graph.node(ident)
        for ident in graph.built
        if ident in graph.ops or ident in graph.blocks
    }
    position = {ident: i for i, ident in enumerate(nodes)}
    deps = {ident: set(n.upstream()) & set(nodes) for ident, n in nodes.items()}
    pending = {ident: len(d) for ident, d in deps.items()}
    consumers: dict[str, set[str]] = {ident: set() for ident in nodes}
    for ident, ups in deps.items():
        for up in ups:
            consumers[up].add(ident)
    ready = [position[ident] for ident in nodes if pending[ident] == 0]
    heapq.heapify(ready)
    idents = list(nodes)
    order: list[str] = []
    while ready:
        ident = idents[heapq.heappop(ready)]
        order.append(ident)
        for user in consumers[ident]:
            pending[user] -= 1
            if pending[user] == 0:
                heapq.heappush(ready, position[user])
    if len(order) != len(nodes):
        stuck = [nodes[i].describe() for i in nodes if pending[i] > 0]
        raise ValueError(f"The pipeline has a dependency cycle among {', '.join(stuck)}")
    return order
