"""Boolean expressions used as conditions of ``If``."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._markers import PlaceParam
from ._node import NodeRef
from ._statement import to_ref

Atom: TypeAlias = NodeRef | PlaceParam | None | bool | int | float | str | list[Any]
"""A node reference or a JSON value other than an object."""


class _BoolExpr(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _statements_to_refs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: [to_ref(x) for x in v] if isinstance(v, list) and k == "exp" else to_ref(v)
                for k, v in data.items()
            }
        return data


class And(_BoolExpr):
    """True when every sub-expression is true."""

    operator: Literal["and"] = "and"
    exp: list[BooleanExpression] = Field(min_length=2)


class Or(_BoolExpr):
    """True when any sub-expression is true."""

    operator: Literal["or"] = "or"
    exp: list[BooleanExpression] = Field(min_length=2)


class Not(_BoolExpr):
    """The negation of a sub-expression."""

    operator: Literal["not"] = "not"
    exp: BooleanExpression


class _Comparison(_BoolExpr):
    left: Atom
    right: Atom


class Equal(_Comparison):
    """``left == right``."""

    operator: Literal["=="] = "=="


class NotEqual(_Comparison):
    """``left != right``."""

    operator: Literal["!="] = "!="


class GreaterThan(_Comparison):
    """``left > right``."""

    operator: Literal[">"] = ">"


class GreaterThanOrEqual(_Comparison):
    """``left >= right``."""

    operator: Literal[">="] = ">="


class LessThan(_Comparison):
    """``left < right``."""

    operator: Literal["<"] = "<"


class LessThanOrEqual(_Comparison):
    """``left <= right``."""

    operator: Literal["<="] = "<="


ComparisonExpression: TypeAlias = (
    Equal | NotEqual | GreaterThan | GreaterThanOrEqual | LessThan | LessThanOrEqual
)
BooleanExpression: TypeAlias = And | Or | Not | ComparisonExpression | Atom
"""A condition: a combination of comparisons and atoms."""
