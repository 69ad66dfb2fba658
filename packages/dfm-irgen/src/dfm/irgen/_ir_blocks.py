"""The block kinds of a NetIR transition, and the condition trees of If.

A transition with a ``block`` is run by the runtime's implementation of its kind, not by
a body of adapter calls:

* ``FanOut`` (ForEach): iterates the sequence in its ``seq`` input and sends the elements,
  in batches, to the ``Scatter`` of every site that uses them (``ElementValue`` sends),
  then closes the frame's scope on those links. Its ``DoneValue`` send carries the
  outcome (a control token, or the ErrorToken of a sequence that is not iterable or a
  generator that failed) to the ForEach's ``Collect``; ``ResultValue`` sends carry the
  collected list to other users of a generator sequence. ``sequential`` waits for an ack
  (input ``ack``) per element before emitting the next.
* ``Scatter``: its one input receives element batches at the fan-out's frame ``f``; it
  delivers element ``k`` at ``f + [k]`` to its targets (``ResultValue`` with selectors,
  control tokens, yields) and forwards the close of ``f``.
* ``Collect``: inputs at the transition's depth carry the fan-out's outcome; inputs one
  level deeper carry the body's reports. For frame ``f`` it fires once the outcome is
  there and every report input received the close of ``f``, and reports the merged
  errors (``DoneValue``). ``AckValue`` sends go per element to a sequential fan-out.
* ``Condition`` (If): evaluates ``expr`` over its inputs; true: performs its sends
  (control tokens to the body, gated yields), false: skips.
* ``CacheLookup`` / ``CacheWrite`` (TryFromCache): the lookup reads the site's cache under
  the key; its control sends go to the body (skip on a hit), its ``ResultValue`` send
  carries the outcome to the write on the same site, which sends ``cached`` (the hit,
  or the ``value`` stored on a miss) with ``ResultValue`` sends.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ._ir_values import IRModel, LiteralValue, PlaceValue, StmtValue

CondAtom = Annotated[PlaceValue | LiteralValue | StmtValue, Field(discriminator="kind")]
"""A value in a condition: an input place (with selection), a literal, or (in the guard
of an operation's transition) the value of one of its statements."""

CompareOp = Literal["==", "!=", ">", ">=", "<", "<="]


class CondCompare(IRModel):
    """``left <op> right`` with Python's comparison semantics."""

    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: CondAtom
    right: CondAtom


class CondAnd(IRModel):
    """True when every sub-condition is true (evaluated left to right, short-circuit)."""

    kind: Literal["and"] = "and"
    exp: list[CondExpr] = Field(min_length=2)


class CondOr(IRModel):
    """True when any sub-condition is true (evaluated left to right, short-circuit)."""

    kind: Literal["or"] = "or"
    exp: list[CondExpr] = Field(min_length=2)


class CondNot(IRModel):
    """The negation of a sub-condition."""

    kind: Literal["not"] = "not"
    exp: CondExpr


class CondTruth(IRModel):
    """A bare value used as a condition: its truth (``bool(value)``)."""

    kind: Literal["truth"] = "truth"
    value: CondAtom


CondExpr = Annotated[
    CondCompare | CondAnd | CondOr | CondNot | CondTruth, Field(discriminator="kind")
]
"""A condition tree: data, never source text; the site compiles it from this tree."""


class Guard(IRModel):
    """An If evaluated inside the transition of the operation it reads (``Transition.guard``).

    After the operation's own sends, ``expr`` (over its statement values) decides the
    sends marked ``guarded``: performed when true, skipped when false; an error in the
    condition goes to them alone, naming the If (``node_id``).
    """

    node_id: int | str
    expr: CondExpr


class FanOut(IRModel):
    """ForEach: iterate the sequence in input ``seq``."""

    kind: Literal["fan_out"] = "fan_out"
    seq: str
    sequential: bool = False
    ack: str | None = None


class Scatter(IRModel):
    """Deliver each element of the batches in the one input to this site's places."""

    kind: Literal["scatter"] = "scatter"


class Collect(IRModel):
    """Fan-in: a ForEach frame is done when every element's reports are in."""

    kind: Literal["collect"] = "collect"


class Condition(IRModel):
    """If: run the body (perform the sends) only when ``expr`` is true."""

    kind: Literal["cond"] = "cond"
    expr: CondExpr


class CacheLookup(IRModel):
    """TryFromCache: look the key up in this site's cache."""

    kind: Literal["cache_lookup"] = "cache_lookup"
    key: PlaceValue | LiteralValue = Field(discriminator="kind")


class CacheWrite(IRModel):
    """TryFromCache: the cached value on a hit; on a miss, store ``value`` and send it."""

    kind: Literal["cache_write"] = "cache_write"
    lookup: str
    value: PlaceValue | LiteralValue = Field(discriminator="kind")


BlockSpec = Annotated[
    FanOut | Scatter | Collect | Condition | CacheLookup | CacheWrite,
    Field(discriminator="kind"),
]
"""The kind of a block transition, with its parameters."""

BLOCK_OPERATIONS: dict[str, str] = {
    "fan_out": "ForEach",
    "scatter": "ForEach",
    "collect": "ForEach",
    "cond": "If",
    "cache_lookup": "TryFromCache",
    "cache_write": "TryFromCache",
}
"""The block (as the pipeline language names it) each kind of block transition implements."""

for _model in (CondAnd, CondOr, CondNot, Guard):
    _model.model_rebuild()
