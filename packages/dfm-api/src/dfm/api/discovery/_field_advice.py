"""Field advice: the tree discovery returns for one operation on one site.

Each node advises one field. A :class:`SingleFieldAdvice` says what the field may be
and continues with one ``edge`` (the advice for the next fields); a
:class:`BranchFieldAdvice` lists the field's values, each with its own edge (later
fields depend on it). An edge is more advice, an :class:`ErrorFieldAdvice` (this path
cannot work), a :class:`PartialFieldAdvice` (not explored further) or None (nothing
more to advise).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from ._advised import ADVISED_TAGS, AdvisedError, AdvisedValue, AnyAdvisedValue


class FieldAdvice(BaseModel):
    """Base of the advice nodes; the helpers a client uses to read advice.

    Iterating a node gives its good values (``list(advice)``), those that lead to no
    error.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def has_good_options(self) -> bool:
        """Whether some choice of values along this advice leads to no error."""
        raise NotImplementedError

    def good_values(self) -> list[Any]:
        """The values of this node's field that lead to no error (see ``__iter__``)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        """The good values of this node's field (none for errors and partial advice).

        For a :class:`SingleFieldAdvice` these are the literal, or each value of a one-of
        or subset advice; an advice that cannot list values (a date range, a dict,
        :class:`Okay`) gives itself.
        """
        return iter(self.good_values())

    def select(self, value: Any) -> AnyFieldAdvice | None:
        """Choose ``value`` for this node's field: the advice for the fields after it.

        Returns:
            The next advice, or None when nothing more is advised.

        Raises:
            ValueError: The value is not advised here, leads to an error (the message
                says why), or advice beyond this field was not explored.
        """
        raise NotImplementedError

    def collect_error_messages(self) -> list[str]:
        """Every error message in this advice, each once, in depth-first order."""
        found: dict[str, None] = {}
        self._collect(found)
        return list(found)

    def _collect(self, found: dict[str, None]) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        """The advice as indented text, one field per line, for people to read.

        For example::

            color:
              = 'red'
                size: one of ['S', 'M']
              = 'green'
                size: 'L'
        """
        return "\n".join(self._lines(""))

    def _lines(self, pad: str) -> list[str]:
        raise NotImplementedError


class ErrorFieldAdvice(FieldAdvice):
    """This path cannot work: ``msg`` says why."""

    tag: Literal["@dfm-error-advice"] = Field("@dfm-error-advice", repr=False)
    msg: str

    def __init__(self, msg: str, **data: Any) -> None:
        """``ErrorFieldAdvice("Expected one of ['S', 'M'] but got XL")``."""
        data.update(msg=msg)
        super().__init__(**data)

    def has_good_options(self) -> bool:
        """Never."""
        return False

    def good_values(self) -> list[Any]:
        """None."""
        return []

    def select(self, value: Any) -> AnyFieldAdvice | None:
        """Always raises ``ValueError(msg)``."""
        raise ValueError(self.msg)

    def _collect(self, found: dict[str, None]) -> None:
        found[self.msg] = None

    def _lines(self, pad: str) -> list[str]:
        return [f"{pad}error: {self.msg}"]


class PartialFieldAdvice(FieldAdvice):
    """Advice stopped here (``break_on_advice``): choose the field before, ask again."""

    tag: Literal["@dfm-partial-advice"] = Field("@dfm-partial-advice", repr=False)

    def has_good_options(self) -> bool:
        """True: nothing known is wrong."""
        return True

    def good_values(self) -> list[Any]:
        """None known."""
        return []

    def select(self, value: Any) -> AnyFieldAdvice | None:
        """Always raises: there is nothing to select from."""
        raise ValueError(
            "Discovery did not explore the fields after this one (break_on_advice): set the "
            "field before it in the pipeline and run discovery again"
        )

    def _collect(self, found: dict[str, None]) -> None:
        pass

    def _lines(self, pad: str) -> list[str]:
        return [f"{pad}(not explored further: choose the value above, then ask again)"]


def _edge_is_good(edge: FieldAdvice | None) -> bool:
    return edge is None or edge.has_good_options()


def _descend(field: str, value: Any, edge: AnyFieldAdvice | None) -> AnyFieldAdvice | None:
    if isinstance(edge, ErrorFieldAdvice):
        raise ValueError(f"Field {field!r} = {value!r} cannot work: {edge.msg}")
    if isinstance(edge, PartialFieldAdvice):
        raise ValueError(
            f"Discovery did not explore the fields after {field!r} (break_on_advice): set "
            f"{field}={value!r} in the pipeline and run discovery again"
        )
    return edge


_advised_adapter: TypeAdapter[Any] | None = None


def _as_advised(value: Any) -> Any:
    # A JSON dict carrying an advised value's tag is that advised value; anything else
    # is a value the pipeline gave.
    global _advised_adapter
    if isinstance(value, dict) and value.get("tag") in ADVISED_TAGS:
        if _advised_adapter is None:
            _advised_adapter = TypeAdapter(AnyAdvisedValue)
        return _advised_adapter.validate_python(value)
    return value


class SingleFieldAdvice(FieldAdvice):
    """The advice for one field, then one edge for the fields after it.

    Attributes:
        field: The adapter parameter advised.
        value: An :class:`AdvisedValue` when the field was to be advised; the value the
            pipeline gave when that value failed validation (``edge`` then says why).
        edge: The advice for the next fields (see the module docstring).
    """

    tag: Literal["@dfm-single-advice"] = Field("@dfm-single-advice", repr=False)
    field: str
    value: Any
    edge: AnyFieldAdvice | None = None

    def __init__(
        self, field: str, value: Any, edge: AnyFieldAdvice | None = None, **data: Any
    ) -> None:
        """``SingleFieldAdvice("size", AdvisedOneOf(["S", "M"]))``."""
        data.update(field=field, value=value, edge=edge)
        super().__init__(**data)

    @field_validator("value", mode="before")
    @classmethod
    def _advised(cls, value: Any) -> Any:
        return _as_advised(value)

    def has_good_options(self) -> bool:
        """Whether the value is satisfiable and the edge has good options."""
        if isinstance(self.value, AdvisedValue) and not self.value.is_satisfiable():
            return False
        return _edge_is_good(self.edge)

    def good_values(self) -> list[Any]:
        """See ``__iter__``; none when the edge has no good options."""
        if not self.has_good_options():
            return []
        if isinstance(self.value, AdvisedValue):
            return self.value.options()
        return [self.value]

    def select(self, value: Any) -> AnyFieldAdvice | None:
        """See :meth:`FieldAdvice.select`."""
        if isinstance(self.value, AdvisedError):
            raise ValueError(f"Field {self.field!r} has no good value: {self.value.msg}")
        if isinstance(self.value, AdvisedValue):
            error = self.value.validation_error(value)
            if error is not None:
                raise ValueError(f"{value!r} is not a good value for field {self.field!r}: {error}")
        elif value != self.value:
            raise ValueError(
                f"Field {self.field!r} was given as {self.value!r} in the pipeline, not {value!r}"
            )
        return _descend(self.field, value, self.edge)

    def _collect(self, found: dict[str, None]) -> None:
        if isinstance(self.value, AdvisedError):
            found[self.value.msg] = None
        if self.edge is not None:
            self.edge._collect(found)

    def _lines(self, pad: str) -> list[str]:
        if isinstance(self.value, AdvisedValue):
            head = f"{pad}{self.field}: {self.value.describe()}"
        else:
            head = f"{pad}{self.field} = {self.value!r}"
        if self.edge is None:
            return [head]
        # An error about this field's value is told under it; the next field follows it.
        if isinstance(self.edge, (ErrorFieldAdvice, PartialFieldAdvice)):
            return [head, *self.edge._lines(pad + "  ")]
        return [head, *self.edge._lines(pad)]


class BranchFieldAdvice(FieldAdvice):
    """The values of one field, each with its own advice for the fields after it.

    Attributes:
        field: The adapter parameter advised.
        branches: ``(value, edge)`` per value, in the advisor's order.
    """

    tag: Literal["@dfm-branch-advice"] = Field("@dfm-branch-advice", repr=False)
    field: str
    branches: list[tuple[Any, AnyFieldAdvice | None]]

    def __init__(
        self, field: str, branches: list[tuple[Any, AnyFieldAdvice | None]], **data: Any
    ) -> None:
        """``BranchFieldAdvice("color", [("red", ...), ("green", ...)])``."""
        data.update(field=field, branches=branches)
        super().__init__(**data)

    def has_good_options(self) -> bool:
        """Whether any branch has good options."""
        return any(_edge_is_good(edge) for _, edge in self.branches)

    def good_values(self) -> list[Any]:
        """The values whose branch has good options."""
        return [value for value, edge in self.branches if _edge_is_good(edge)]

    def select(self, value: Any) -> AnyFieldAdvice | None:
        """See :meth:`FieldAdvice.select`."""
        for candidate, edge in self.branches:
            if candidate == value:
                return _descend(self.field, value, edge)
        values = [v for v, _ in self.branches]
        raise ValueError(f"{value!r} is not an advised value of field {self.field!r}: {values}")

    def _collect(self, found: dict[str, None]) -> None:
        for _, edge in self.branches:
            if edge is not None:
                edge._collect(found)

    def _lines(self, pad: str) -> list[str]:
        lines = [f"{pad}{self.field}:"]
        for value, edge in self.branches:
            lines.append(f"{pad}  = {value!r}")
            if edge is not None:
                lines += edge._lines(pad + "    ")
        return lines


AnyFieldAdvice: TypeAlias = Annotated[
    SingleFieldAdvice | BranchFieldAdvice | ErrorFieldAdvice | PartialFieldAdvice,
    Field(discriminator="tag"),
]
"""Any advice node, told apart in JSON by its ``tag``."""
