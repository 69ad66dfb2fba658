"""Operations: the federation's public functions, as pipeline nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema

from ._markers import Advise, BestOf
from ._node import NodeRef
from ._statement import Expression

if TYPE_CHECKING:
    from ._visitor import ApiVisitor


class _ValidatedAsNodeRef:
    """Validate a NodeParam as a NodeRef only.

    Statements passed as parameters are turned into references before field validation,
    so trying the abstract ``Expression`` member of the union would only ever fail, at
    a cost on every parameter of every operation.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return handler(NodeRef)


NodeParam: TypeAlias = Annotated[Expression | NodeRef, _ValidatedAsNodeRef()]
"""A parameter value produced by another node of the pipeline."""


_SKIP = frozenset({"site", "provider", "dfm_class_name", "dfm_node_id", "dfm_after"})


class Located(BaseModel):
    """Where a node runs: ``site`` pins it, ``BestOf`` lets the compiler choose.

    ``provider`` selects the interface of a named provider on whichever site has it.
    """

    site: str | BestOf | Advise = BestOf()
    provider: str | None = None


class Operation(Expression, Located):
    """Base of every generated operation class.

    A generated class sets ``dfm_class_name`` (its own import path), the class
    attribute ``__api_name__`` (the operation's name in the federation config, e.g.
    ``"users.GreetMe"``) and ``dfm_param_schemas`` (parameter name → the JSON Schema of
    its values, which the compiler and the session check values against), and
    declares one field per operation parameter.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", defer_build=True, arbitrary_types_allowed=True
    )

    __api_name__: ClassVar[str]
    dfm_param_schemas: ClassVar[dict[str, Any]] = {}

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_operation``."""
        visitor.visit_operation(self)

    def operation_params(self) -> dict[str, Any]:
        """The operation parameters the user set explicitly, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set if name not in _SKIP}

    def _unset_parameters(self) -> set[str]:
        """Unset parameters are not written, so a JSON round trip keeps them unset."""
        return set(type(self).__pydantic_fields__) - self.model_fields_set - _SKIP
