"""Lowering of the blocks: ForEach (fan-out, scatters, collect), If, TryFromCache.

See the block kinds in ``_ir_blocks`` and the execution model in docs/internals.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfm.api import NodeRef, PlaceParam, describe_node

from ._ir import InPlace, TokenSend
from ._ir_blocks import (
    CacheLookup,
    CacheWrite,
    Collect,
    CondAnd,
    CondAtom,
    CondCompare,
    CondExpr,
    Condition,
    CondNot,
    CondOr,
    CondTruth,
    FanOut,
    Scatter,
)
from ._ir_values import (
    AckValue,
    DoneValue,
    ElementValue,
    FlowValue,
    LiteralValue,
    PlaceValue,
    ResultValue,
)
from ._nodes import BlockNode, CacheNode, ForEachNode, IfNode, YieldNode
from ._plan import collect_ident

if TYPE_CHECKING:
    from ._lower import Draft, Lowering


def _lookup_name(cache: str) -> str:
    return f"{cache}__lookup"


def draft_block(low: Lowering, node: BlockNode) -> None:
    """The transitions of a block, without their inputs yet."""
    from ._lower import Draft

    site = low.site_of(node.ident)
    depth = node.scope.depth
    if isinstance(node, ForEachNode):
        low.add(Draft(node.ident, site, node.node_id, depth, node.scope, block=FanOut(seq="")))
        collect_site = low.placement.sites[collect_ident(node.ident)]
        low.add(
            Draft(
                collect_ident(node.ident),
                collect_site,
                node.node_id,
                depth,
                node.scope,
                block=Collect(),
                gated=False,
            )
        )
    elif isinstance(node, IfNode):
        low.add(Draft(node.ident, site, node.node_id, depth, node.scope))
    else:
        low.add(Draft(_lookup_name(node.ident), site, node.node_id, depth, node.scope))
        low.add(Draft(node.ident, site, node.node_id, depth, node.scope, gated=False))


def connect_block(low: Lowering, node: BlockNode) -> None:
    """The inputs of a block's transitions."""
    if isinstance(node, ForEachNode):
        _connect_for_each(low, node)
    elif isinstance(node, IfNode):
        _connect_if(low, node)
    else:
        _connect_cache(low, node)


# -- ForEach ------------------------------------------------------------------------
def scatter(low: Lowering, node: ForEachNode, site: str) -> Draft:
    """The scatter of ``node``'s elements on ``site`` (created on first use)."""
    from ._lower import Draft

    name = f"{node.ident}__scatter_{site}"
    draft = low.drafts.get(name)
    if draft is not None:
        return draft
    draft = low.add(
        Draft(
            name,
            site,
            node.node_id,
            node.body.depth,
            node.body,
            block=Scatter(),
            gated=False,
        )
    )
    fan_out = low.drafts[node.ident]
    low.send(fan_out, draft, f"{node.ident}__elements_{site}", ElementValue(), node_id=node.node_id)
    return draft


def existing_scatter_site(low: Lowering, node: ForEachNode) -> str:
    """A site that has (or gets) a scatter of ``node``: the fan-out's own, else any."""
    own = low.drafts[node.ident].site
    prefix = f"{node.ident}__scatter_"
    sites = [d.site for name, d in low.drafts.items() if name.startswith(prefix)]
    return own if own in sites or not sites else sites[0]


def _connect_for_each(low: Lowering, node: ForEachNode) -> None:
    fan_out = low.drafts[node.ident]
    place = f"{node.ident}__seq"
    if node.ref is not None:
        low.connect(fan_out, place, node.ref.id.as_identifier(), node.ref.sel, node.ref.issubs)
    else:
        assert node.param is not None
        low.external_input(fan_out, place, node.param.place)
    fan_out.block = FanOut(seq=place, sequential=node.sequential)
    collect = low.drafts[collect_ident(node.ident)]
    low.send(fan_out, collect, f"{collect.name}__outcome", DoneValue(), node_id=node.node_id)


def acknowledge_elements(low: Lowering) -> None:
    """Sequential ForEach: per-element acks from the collect to the fan-out."""
    for ident in low.graph.order:
        node = low.graph.blocks.get(ident)
        if not isinstance(node, ForEachNode) or not node.sequential:
            continue
        fan_out = low.drafts[ident]
        collect = low.drafts[collect_ident(ident)]
        if not any(p.depth > collect.depth for p in collect.inputs):
            continue  # nothing in the body reports: nothing to wait for
        place = f"{ident}__ack"
        fan_out.inputs.append(InPlace(name=place, kind="control", depth=fan_out.depth + 1))
        collect.sends.append(
            TokenSend(site=fan_out.site, place=place, kind="control", data=AckValue())
        )
        fan_out.block = FanOut(seq=f"{ident}__seq", sequential=True, ack=place)


# -- If -----------------------------------------------------------------------------
class _CondInputs:
    """The inputs of a condition transition, one per distinct (node, selection)."""

    def __init__(self, low: Lowering, draft: Draft) -> None:
        self.low = low
        self.draft = draft
        self.places: dict[tuple[Any, ...], str] = {}

    def ref(self, ref: NodeRef) -> PlaceValue:
        key = ("ref", ref.id.as_identifier(), ref.sel, ref.issubs)
        place = self.places.get(key)
        if place is None:
            place = f"{self.draft.name}__in{len(self.places)}"
            self.places[key] = place
            self.low.connect(self.draft, place, ref.id.as_identifier(), ref.sel, ref.issubs)
        return PlaceValue(place=place)

    def param(self, param: PlaceParam) -> PlaceValue:
        key = ("param", param.place)
        place = self.places.get(key)
        if place is None:
            place = f"{self.draft.name}__in{len(self.places)}"
            self.places[key] = place
            self.low.external_input(self.draft, place, param.place)
        return PlaceValue(place=place)


def _condition(inputs: _CondInputs, e: Any, where: str) -> CondExpr:
    from dfm.api import And, Not, Or

    from ._lower import literal

    def atom(a: Any) -> CondAtom:
        if isinstance(a, NodeRef):
            return inputs.ref(a)
        if isinstance(a, PlaceParam):
            return inputs.param(a)
        return LiteralValue(value=literal(a, f"A literal in the condition of {where}"))

    if isinstance(e, And):
        return CondAnd(exp=[_condition(inputs, x, where) for x in e.exp])
    if isinstance(e, Or):
        return CondOr(exp=[_condition(inputs, x, where) for x in e.exp])
    if isinstance(e, Not):
        return CondNot(exp=_condition(inputs, e.exp, where))
    if hasattr(e, "left") and hasattr(e, "right") and hasattr(e, "operator"):
        return CondCompare(op=e.operator, left=atom(e.left), right=atom(e.right))
    return CondTruth(value=atom(e))


def _connect_if(low: Lowering, node: IfNode) -> None:
    draft = low.drafts[node.ident]
    inputs = _CondInputs(low, draft)
    draft.block = Condition(expr=_condition(inputs, node.stmt.cond, node.describe()))
    low.cond_inputs[node.ident] = inputs  # gated yields add theirs


# -- TryFromCache -------------------------------------------------------------------
def _connect_cache(low: Lowering, node: CacheNode) -> None:
    from ._lower import literal

    lookup = low.drafts[_lookup_name(node.ident)]
    write = low.drafts[node.ident]
    key: PlaceValue | LiteralValue
    if node.key_ref is not None:
        place = f"{lookup.name}__key"
        low.connect(
            lookup, place, node.key_ref.id.as_identifier(), node.key_ref.sel, node.key_ref.issubs
        )
        key = PlaceValue(place=place)
    elif node.key_param is not None:
        place = f"{lookup.name}__key"
        low.external_input(lookup, place, node.key_param.place)
        key = PlaceValue(place=place)
    else:
        key = LiteralValue(value=literal(node.key_literal, f"The key of {node.describe()}"))
    lookup.block = CacheLookup(key=key)
    lookup_place = f"{node.ident}__lookup"
    low.send(lookup, write, lookup_place, ResultValue(), node_id=node.node_id)
    write_node = node.write
    assert write_node is not None
    value: PlaceValue | LiteralValue
    if write_node.ref is not None:
        place = f"{node.ident}__value"
        ref = write_node.ref
        low.connect(write, place, ref.id.as_identifier(), ref.sel, ref.issubs)
        value = PlaceValue(place=place)
    elif write_node.param is not None:
        place = f"{node.ident}__value"
        low.external_input(write, place, write_node.param.place)
        value = PlaceValue(place=place)
    else:
        value = LiteralValue(
            value=literal(write_node.literal, f"The value cached by {node.describe()}")
        )
    write.block = CacheWrite(lookup=lookup_place, value=value)


# -- control and gated yields -------------------------------------------------------
def _entry_producer(low: Lowering, draft: Draft) -> Draft:
    scope = draft.scope
    assert scope.block is not None
    block = low.graph.blocks[scope.block]
    if isinstance(block, ForEachNode):
        return scatter(low, block, draft.site)
    if isinstance(block, CacheNode):
        return low.drafts[_lookup_name(block.ident)]
    return low.drafts[block.ident]


def entry_control(low: Lowering, draft: Draft) -> None:
    """The control input a transition in a block gets from the block's entry.

    At the root nothing is added (a transition without inputs gets the start signal).
    """
    if draft.scope.kind == "root":
        return
    producer = _entry_producer(low, draft)
    low.send(producer, draft, f"{draft.name}__ctl", FlowValue(), kind="control")


def gated_yield(low: Lowering, y: YieldNode, block: BlockNode) -> None:
    """A Yield inside a block of a value from outside it (or of a literal or parameter).

    Inside an If, the condition transition yields it (it sends only when true); in a
    ForEach or TryFromCache body, a gate transition with the block's control does.
    """
    from ._lower import Draft, literal

    place = y.stmt.place
    what = f"The value of {describe_node('Yield', y.stmt.dfm_node_id.ident)}"
    # The yield carries the node id of the value it sends, as a direct yield does.
    node_id = low.graph.node(y.ref.id.as_identifier()).node_id if y.ref is not None else None
    if isinstance(block, IfNode) and y.scope is block.body:
        draft = low.drafts[block.ident]
        inputs: _CondInputs = low.cond_inputs[block.ident]
        data: PlaceValue | LiteralValue
        if y.ref is not None:
            data = inputs.ref(y.ref)
        elif y.param is not None:
            data = inputs.param(y.param)
        else:
            data = LiteralValue(value=literal(y.stmt.value, what))
        draft.sends.append(
            TokenSend(site=low.homesite, place=place, is_yield=True, node_id=node_id, data=data)
        )
        return
    draft = low.add(Draft(y.ident, low.placement.sites[y.ident], None, y.scope.depth, y.scope))
    if y.ref is not None:
        value_place = f"{y.ident}__value"
        low.connect(draft, value_place, y.ref.id.as_identifier(), y.ref.sel, y.ref.issubs)
        data = PlaceValue(place=value_place)
    elif y.param is not None:
        value_place = f"{y.ident}__value"
        low.external_input(draft, value_place, y.param.place)
        data = PlaceValue(place=value_place)
    else:
        data = LiteralValue(value=literal(y.stmt.value, what))
    draft.sends.append(
        TokenSend(site=low.homesite, place=place, is_yield=True, node_id=node_id, data=data)
    )
