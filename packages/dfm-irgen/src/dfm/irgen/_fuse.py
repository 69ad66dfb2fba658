"""Fusing an If into the operation it reads: one transition instead of two.

An If whose condition reads only the result of one operation on its own site (the
common ``x = Op(); with If(cond=x["ok"]): …``) needs no transition of its own: the
operation's transition evaluates the condition after its own sends and performs the
If's sends (marked ``guarded``) only when it is true. That saves a delivery and a firing
per frame, which is most of what an If costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._ir import AdapterCall, TokenSend
from ._ir_blocks import (
    CondAnd,
    CondCompare,
    CondExpr,
    Condition,
    CondNot,
    CondOr,
    CondTruth,
    Guard,
)
from ._ir_values import PlaceValue, StmtValue

if TYPE_CHECKING:
    from ._lower import Draft, Lowering


def fuse_conditions(low: Lowering) -> None:
    """Fold every If that reads one operation of its own site into that operation."""
    for name in list(low.drafts):
        cond = low.drafts.get(name)
        if cond is None or not isinstance(cond.block, Condition):
            continue
        producer = _only_producer(low, cond)
        if producer is None:
            continue
        values = _values_sent(producer, cond)
        if values is None:
            continue
        producer.sends = [s for s in producer.sends if not _to(s, cond)]
        expr = _rewrite(cond.block.expr, values)
        producer.guard = Guard(node_id=cond.node_id if cond.node_id is not None else "", expr=expr)
        for send in cond.sends:
            data = send.data
            if isinstance(data, PlaceValue):
                data = values[data.place]
            producer.sends.append(send.model_copy(update={"data": data, "guarded": True}))
        del low.drafts[name]


def _only_producer(low: Lowering, cond: Draft) -> Draft | None:
    """The one operation transition feeding every input of ``cond``, on its site, if any."""
    names = {cond.feeds.get(p.name) for p in cond.inputs}
    if len(names) != 1 or None in names or cond.has_params:
        return None
    producer = low.drafts.get(str(next(iter(names))))
    if producer is None or producer.block is not None or producer.guard is not None:
        return None
    if producer.site != cond.site or producer.depth != cond.depth or not producer.body:
        return None
    if any(isinstance(s, AdapterCall) and s.stream for s in producer.body):
        return None
    return producer


def _to(send: TokenSend, cond: Draft) -> bool:
    return (
        send.site == cond.site
        and cond.feeds.get(send.place) is not None
        and any(p.name == send.place for p in cond.inputs)
    )


def _values_sent(producer: Draft, cond: Draft) -> dict[str, StmtValue] | None:
    """For each input place of ``cond``, the statement value ``producer`` sends it."""
    values: dict[str, StmtValue] = {}
    for send in producer.sends:
        if _to(send, cond):
            if not isinstance(send.data, StmtValue):
                return None
            values[send.place] = send.data
    if set(values) != {p.name for p in cond.inputs}:
        return None
    return values


def _rewrite(e: Any, values: dict[str, StmtValue]) -> CondExpr:
    def atom(a: Any) -> Any:
        return values[a.place] if isinstance(a, PlaceValue) else a

    if isinstance(e, CondAnd):
        return CondAnd(exp=[_rewrite(x, values) for x in e.exp])
    if isinstance(e, CondOr):
        return CondOr(exp=[_rewrite(x, values) for x in e.exp])
    if isinstance(e, CondNot):
        return CondNot(exp=_rewrite(e.exp, values))
    if isinstance(e, CondCompare):
        return CondCompare(op=e.op, left=atom(e.left), right=atom(e.right))
    assert isinstance(e, CondTruth)
    return CondTruth(value=atom(e.value))
