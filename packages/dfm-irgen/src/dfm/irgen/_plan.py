"""The plan: what a graph's blocks imply for placement and lowering.

Where values come from, which nodes need a block's control, which yields are gated, and
the nodes placement must place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dfm.api import ComputeCostInfo, FedInfo, NodeRef, describe_node

from ._graph import LogicalGraph
from ._nodes import CacheNode, ForEachNode, IfNode, OpNode, Scope, YieldNode
from ._placement import PlacementNode, allowed_sites

_ZERO = ComputeCostInfo()
_PASS = ComputeCostInfo(output_factor=1.0)


def collect_ident(for_each: str) -> str:
    """The ident of a ForEach's collect transition."""
    return f"{for_each}__collect"


@dataclass
class Plan:
    """Facts about the graph that placement and lowering share.

    Attributes:
        graph: The logical graph.
        alias: A fan-out placed with the producer of its sequence: fan-out → producer.
        stream: Operations whose generator result goes by reference to a fan-out (the
            first ForEach over its whole value at its own depth), op → fan-out.
        gated_yields: Yields whose value comes from outside their block, by yield
            ident → the block ident that gates them.
    """

    graph: LogicalGraph
    alias: dict[str, str] = field(default_factory=dict)
    stream: dict[str, str] = field(default_factory=dict)
    gated_yields: dict[str, str] = field(default_factory=dict)

    def source_scope(self, ident: str) -> Scope:
        """The scope in which the value of ``ident`` is produced.

        An operation's own scope; a ForEach element's body (its scatter); a TryFromCache's
        block scope (its write).
        """
        node = self.graph.node(ident)
        return node.body if isinstance(node, ForEachNode) else node.scope

    def produced_inside(self, ident: str, body: Scope) -> bool:
        """Whether the value of ``ident`` is produced inside the block body ``body``.

        Such a value carries the block's skip (and, in a ForEach, its element frames).
        """
        return self.source_scope(ident).within(body)

    def needs_entry(self, scope: Scope, inputs: list[str], has_params: bool = False) -> bool:
        """Whether a transition in ``scope`` with these input nodes needs its block's control.

        At the root: only a transition with no input at all (it gets the start signal).
        In a block: one with no input produced inside the block body.
        """
        if scope.kind == "root":
            return not inputs and not has_params
        return not any(self.produced_inside(i, scope) for i in inputs)

    def rep(self, ident: str) -> str:
        """The placement node that produces the value of ``ident``."""
        return self.alias.get(ident, ident)

    def entry_rep(self, scope: Scope) -> str | None:
        """The placement node a block's entry control comes from (None: root or cache)."""
        if scope.kind in ("for_each", "if") and scope.block is not None:
            return self.rep(scope.block)
        return None


def make_plan(graph: LogicalGraph) -> Plan:
    """Work out aliases, streams and gated yields of ``graph``."""
    plan = Plan(graph)
    for ident in graph.order:
        block = graph.blocks.get(ident)
        if not isinstance(block, ForEachNode) or block.ref is None:
            continue
        source = block.ref.id.as_identifier()
        producer = graph.node(source)
        if isinstance(producer, (OpNode, CacheNode)):
            plan.alias[ident] = plan.rep(source)
            # Only a ForEach in the producer's own block may consume the generator as it
            # is produced: its collected list then serves the producer's other users,
            # which must not see a skip of a block the producer is not in.
            whole = block.ref.sel is None
            if isinstance(producer, OpNode) and whole and producer.scope is block.scope:
                plan.stream.setdefault(source, ident)
    for y in graph.yields:
        if y.scope.kind == "root":
            continue
        value = y.ref.id.as_identifier() if y.ref is not None else None
        if value is None or not plan.produced_inside(value, y.scope):
            assert y.scope.block is not None
            plan.gated_yields[y.ident] = y.scope.block
    return plan


def _reporters(plan: Plan, body: Scope) -> list[str]:
    """The nodes of a ForEach body that (most likely) report to its collect.

    Placement's estimate: nodes directly in the body (or in an If/TryFromCache inside
    it) whose value nobody in the graph uses, or that are yielded.
    """
    graph = plan.graph
    used: set[str] = set()
    for ident in graph.order:
        used.update(graph.node(ident).input_refs())
    yielded = {y.ref.id.as_identifier() for y in graph.yields if y.ref is not None}
    out = []
    for ident in graph.order:
        node = graph.node(ident)
        if node.scope.for_each() is not body:
            continue
        if isinstance(node, ForEachNode):
            out.append(collect_ident(ident))
        elif ident not in used or ident in yielded:
            out.append(plan.rep(ident))
    return list(dict.fromkeys(out))


def placement_nodes(
    plan: Plan, fed_info: FedInfo, candidates: list[str]
) -> tuple[list[PlacementNode], list[tuple[str, str]]]:
    """The nodes to place, in dependency order, and every Yield of a node's value.

    Yields are given as (the Yield's node id, the node whose value it sends).

    Raises:
        ValueError: An operation cannot be placed (see :func:`allowed_sites`).
    """
    graph = plan.graph
    anywhere = [(s, _ZERO) for s in candidates]
    passing = [(s, _PASS) for s in candidates]
    nodes: list[PlacementNode] = []
    by_ident: dict[str, PlacementNode] = {}

    def refs_of(refs: list[NodeRef]) -> list[tuple[str, bool]]:
        return [(plan.rep(r.id.as_identifier()), False) for r in refs]

    def entry(scope: Scope, inputs: list[str]) -> list[tuple[str, bool]]:
        gate = plan.entry_rep(scope)
        return [(gate, True)] if gate is not None and plan.needs_entry(scope, inputs) else []

    def add(node: PlacementNode) -> None:
        # A block transition keeps what the values it passes on keep (keep-on-site).
        if not node.is_operation:
            kept = {s for up, control in node.upstream if not control for s in by_ident[up].kept}
            node.kept = frozenset(kept)
        nodes.append(node)
        by_ident[node.ident] = node

    for ident in graph.order:
        node = graph.node(ident)
        inputs = node.input_refs()
        if isinstance(node, OpNode):
            found = allowed_sites(node, fed_info, candidates)
            options = [(s, info.compute_cost) for s, info in found]
            ups = refs_of(list(node.refs.values())) + [(plan.rep(a), True) for a in node.after]
            kept = frozenset(s for s, info in found if info.keep_on_site)
            add(
                PlacementNode(
                    ident,
                    options,
                    ups + entry(node.scope, inputs),
                    is_operation=True,
                    kept=kept,
                    label=node.describe(),
                )
            )
        elif isinstance(node, IfNode):
            ups = refs_of(node.refs) + entry(node.scope, inputs)
            ups += refs_of([y.ref for y in _gated(plan, ident) if y.ref is not None])
            add(PlacementNode(ident, anywhere, ups, label=node.describe()))
        elif isinstance(node, CacheNode):
            refs = [node.key_ref] if node.key_ref is not None else []
            if node.write is not None and node.write.ref is not None:
                refs.append(node.write.ref)
            ups = refs_of(refs) + entry(node.scope, inputs)
            add(PlacementNode(ident, passing, ups, label=node.describe()))
        elif isinstance(node, ForEachNode) and ident not in plan.alias:
            refs = [node.ref] if node.ref is not None else []
            ups = refs_of(refs) + entry(node.scope, inputs)
            add(PlacementNode(ident, passing, ups, label=node.describe()))
    yields: list[tuple[str, str]] = []
    for y in graph.yields:
        label = describe_node("Yield", y.stmt.dfm_node_id.ident)
        if y.ident in plan.gated_yields:
            block = graph.blocks[plan.gated_yields[y.ident]]
            if isinstance(block, IfNode):
                yields.append((label, block.ident))  # the If's transition yields it
                continue
            ups = [(plan.rep(y.ref.id.as_identifier()), False)] if y.ref is not None else []
            gate = plan.rep(block.ident)
            add(PlacementNode(y.ident, passing, [*ups, (gate, True)], label=label))
            yields.append((label, y.ident))
        elif y.ref is not None:
            yields.append((label, plan.rep(y.ref.id.as_identifier())))
    for ident in reversed(graph.order):
        node = graph.node(ident)
        if isinstance(node, ForEachNode):
            ups = [(r, True) for r in _reporters(plan, node.body)]
            label = f"the collect of {node.describe()}"
            add(PlacementNode(collect_ident(ident), anywhere, ups, label=label))
    return _ordered(nodes), yields


def _gated(plan: Plan, block: str) -> list[YieldNode]:
    return [y for y in plan.graph.yields if plan.gated_yields.get(y.ident) == block]


def _ordered(nodes: list[PlacementNode]) -> list[PlacementNode]:
    # Collects of nested ForEach come before the outer ones that wait for them, and
    # gates before any collect: a stable topological sort over what was appended.
    placed: set[str] = set()
    out: list[PlacementNode] = []
    pending = list(nodes)
    while pending:
        rest = []
        for node in pending:
            if all(up in placed for up, _ in node.upstream):
                out.append(node)
                placed.add(node.ident)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            stuck = ", ".join(n.ident for n in rest)
            raise AssertionError(f"placement nodes with unknown inputs: {stuck}")
        pending = rest
    return out
