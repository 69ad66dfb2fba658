"""Control-flow blocks: If, ForEach, and the cache blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ._boolexpr import BooleanExpression
from ._markers import PlaceParam
from ._node import NodeRef
from ._statement import Block, Expression, Statement

if TYPE_CHECKING:
    from ._visitor import ApiVisitor


class If(Statement, Block):
    """Run the body for a frame only when ``cond`` is true (there is no else).

    ``cond`` combines comparisons (``Equal``, ``GreaterThan``, …) with ``And``, ``Or`` and
    ``Not`` over operation results (or parts of them, ``v["mean"]``), PlaceParams and
    literals; a bare value is tested for truth. A frame whose condition is false simply
    completes: nothing in the body runs or yields, and its status is a ``StopToken``.
    Nodes built inside the body can only be used inside it.
    """

    dfm_class_name: Literal["dfm.api.If"] = "dfm.api.If"
    cond: BooleanExpression

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_if``."""
        visitor.visit_if(self)


class ForEach(Expression, Block):
    """Run the body once per element of ``seq``: ``with ForEach(seq=xs) as x:``.

    Inside the block, ``x`` (the ForEach itself) is the current element: pass it, or a
    part of it (``x["k"]``), to operations on any site. Element ``i`` of frame ``f`` runs
    in frame ``f + [i]``, and a Yield in the body delivers one result per element there.
    ``seq`` is an operation's result (any iterable, including a generator an adapter
    returns, whose elements are processed as they are produced) or a PlaceParam.

    Attributes:
        seq: The sequence.
        sequential: Run the body for one element after the other (element ``i + 1``
            starts when everything the body does for element ``i`` is done). By default
            elements run concurrently.
    """

    dfm_class_name: Literal["dfm.api.ForEach"] = "dfm.api.ForEach"
    seq: NodeRef | PlaceParam
    sequential: bool = False

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_for_each``."""
        visitor.visit_for_each(self)


class TryFromCache(Expression, Block):
    """Use the value cached under ``key`` if there is one, else run the body.

    ``with TryFromCache(key=k) as cached: v = Op(...); cached.cache(v)``. After the block,
    ``cached`` is a value like an operation's result: on a hit the cached value (the body
    does not run), on a miss the value given to :meth:`cache`, which is then stored. The
    key is any JSON value, a PlaceParam or an operation's result (which must be JSON at
    run time). The cache lives in the cache storage of the site that runs the block and
    survives jobs and sessions.
    """

    dfm_class_name: Literal["dfm.api.TryFromCache"] = "dfm.api.TryFromCache"
    key: NodeRef | PlaceParam | Any

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_try_from_cache``."""
        visitor.visit_try_from_cache(self)

    def cache(self, value: Any) -> WriteToCache:
        """Store ``value`` under this block's key (call once, inside the block)."""
        return WriteToCache(key=self.key, value=value)


class WriteToCache(Statement):
    """Store ``value`` in the site cache under ``key``."""

    dfm_class_name: Literal["dfm.api.WriteToCache"] = "dfm.api.WriteToCache"
    key: NodeRef | PlaceParam | Any
    value: NodeRef | PlaceParam | Any

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_write_to_cache``."""
        visitor.visit_write_to_cache(self)
