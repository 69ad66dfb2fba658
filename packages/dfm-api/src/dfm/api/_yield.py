"""Yield: send a value back to the application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import field_validator

from ._markers import PlaceParam
from ._names import DEFAULT_YIELD_PLACE, check_user_place_name
from ._node import NodeRef
from ._statement import Statement

if TYPE_CHECKING:
    from ._visitor import ApiVisitor


class Yield(Statement):
    """Send ``value`` (a node's result, a part of it, or a literal) to the application.

    The application receives it in the callback registered for ``place`` (default
    ``"yield"``). A place used by several Yields needs ``multiuse=True`` on all of them.
    """

    dfm_class_name: Literal["dfm.api.Yield"] = "dfm.api.Yield"
    value: NodeRef | PlaceParam | Any
    place: str = DEFAULT_YIELD_PLACE
    multiuse: bool = False

    @field_validator("place")
    @classmethod
    def _valid_place(cls, value: str) -> str:
        return check_user_place_name(value, "Yield")

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_yield``."""
        visitor.visit_yield(self)
