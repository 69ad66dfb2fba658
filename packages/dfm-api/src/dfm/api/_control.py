"""Control-flow blocks: If, ForEach, and the cache blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ._boolexpr import BooleanExpression
from ._markers import PlaceParam
from ._node import NodeRef
from ._statement import Block, Statement

if TYPE_CHECKING:
    from ._visitor import ApiVisitor


class If(Statement, Block):
    """Run the body for a frame only when ``cond`` is true (there is no else)."""

    dfm_class_name: Literal["dfm.api.If"] = "dfm.api.If"
    cond: BooleanExpression

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_if``."""
        visitor.visit_if(self)


class ForEach(Statement, Block):
    """Run the body once per element of ``seq``; inside, reference the element as the ForEach."""

    dfm_class_name: Literal["dfm.api.ForEach"] = "dfm.api.ForEach"
    seq: NodeRef | PlaceParam

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_for_each``."""
        visitor.visit_for_each(self)

    def to_ref(self) -> NodeRef:
        """A reference to the current element."""
        return self.dfm_node_id.to_ref()


class TryFromCache(Statement, Block):
    """Use the value cached under ``key`` if there is one, else run the body."""

    dfm_class_name: Literal["dfm.api.TryFromCache"] = "dfm.api.TryFromCache"
    key: NodeRef | PlaceParam | Any

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_try_from_cache``."""
        visitor.visit_try_from_cache(self)

    def cache(self, value: Any) -> WriteToCache:
        """Store ``value`` under this block's key (call inside the block)."""
        return WriteToCache(key=self.key, value=value)


class WriteToCache(Statement):
    """Store ``value`` in the site cache under ``key``."""

    dfm_class_name: Literal["dfm.api.WriteToCache"] = "dfm.api.WriteToCache"
    key: NodeRef | PlaceParam | Any
    value: NodeRef | PlaceParam | Any

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_write_to_cache``."""
        visitor.visit_write_to_cache(self)
