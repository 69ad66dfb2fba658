"""Advised values: what a field advisor says about the values one field may take.

An advisor returns one of these for its field. Each value can check a concrete value
(:meth:`AdvisedValue.validation_error`) and list the values it offers
(:meth:`AdvisedValue.options`). Every class has a ``tag`` literal, so a value keeps its
class through JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AdvisedValue(BaseModel):
    """Base of the advised values.

    Attributes:
        break_on_advice: When this field is advised, do not explore the fields after it:
            its advice ends in a :class:`PartialFieldAdvice` (choose a value for this
            field, then run discovery again).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    break_on_advice: bool = False

    def validation_error(self, value: Any) -> str | None:
        """Why ``value`` is not a good value for the field, or None if it is."""
        raise NotImplementedError

    def options(self) -> list[Any]:
        """The values this advice offers; an advice that cannot list them gives itself."""
        return [self]

    def is_satisfiable(self) -> bool:
        """Whether some value satisfies this advice."""
        return True

    def assumed_value(self) -> tuple[bool, Any]:
        """``(True, v)`` when the advice leaves one value only, which later advisors see."""
        return (False, None)

    def describe(self) -> str:
        """A short text for people: ``one of ['S', 'M']``."""
        raise NotImplementedError


class AdvisedLiteral(AdvisedValue):
    """Exactly one value is good: ``value``."""

    tag: Literal["@dfm-advised-literal"] = Field("@dfm-advised-literal", repr=False)
    value: Any

    def __init__(self, value: Any, break_on_advice: bool = False, **data: Any) -> None:
        """``AdvisedLiteral(v)``."""
        data.update(value=value, break_on_advice=break_on_advice)
        super().__init__(**data)

    def validation_error(self, value: Any) -> str | None:
        """See :meth:`AdvisedValue.validation_error`."""
        return None if value == self.value else f"Expected {self.value!r} but got {value}"

    def options(self) -> list[Any]:
        """``[value]``."""
        return [self.value]

    def assumed_value(self) -> tuple[bool, Any]:
        """The literal."""
        return (True, self.value)

    def describe(self) -> str:
        """The value."""
        return repr(self.value)


class AdvisedOneOf(AdvisedValue):
    """One of ``values`` is good.

    Attributes:
        values: The good values, in the order to offer them.
        split_on_advice: When the field is advised, explore each value as its own
            branch (a :class:`BranchFieldAdvice`): later advisors see that value.
    """

    tag: Literal["@dfm-advised-one-of"] = Field("@dfm-advised-one-of", repr=False)
    values: list[Any]
    split_on_advice: bool = False

    def __init__(
        self,
        values: Iterable[Any],
        split_on_advice: bool = False,
        break_on_advice: bool = False,
        **data: Any,
    ) -> None:
        """``AdvisedOneOf(["S", "M"], split_on_advice=True)``."""
        data.update(values=list(values), split_on_advice=split_on_advice)
        data.update(break_on_advice=break_on_advice)
        super().__init__(**data)

    def validation_error(self, value: Any) -> str | None:
        """See :meth:`AdvisedValue.validation_error`."""
        if value in self.values:
            return None
        return f"Expected one of {self.values} but got {value}"

    def options(self) -> list[Any]:
        """The values."""
        return list(self.values)

    def is_satisfiable(self) -> bool:
        """Whether there is any value."""
        return bool(self.values)

    def assumed_value(self) -> tuple[bool, Any]:
        """The value when there is only one."""
        return (True, self.values[0]) if len(self.values) == 1 else (False, None)

    def describe(self) -> str:
        """``one of [...]``."""
        return f"one of {self.values!r}"


class AdvisedSubsetOf(AdvisedValue):
    """Any collection of elements of ``values`` is good (a list, tuple or set)."""

    tag: Literal["@dfm-advised-subset-of"] = Field("@dfm-advised-subset-of", repr=False)
    values: list[Any]

    def __init__(self, values: Iterable[Any], break_on_advice: bool = False, **data: Any) -> None:
        """``AdvisedSubsetOf(["t2m", "u10", "v10"])``."""
        data.update(values=list(values), break_on_advice=break_on_advice)
        super().__init__(**data)

    def validation_error(self, value: Any) -> str | None:
        """See :meth:`AdvisedValue.validation_error`."""
        if not isinstance(value, (list, tuple, set, frozenset)):
            return f"Expected a subset of {self.values} (a list) but got {value!r}"
        bad = [v for v in value if v not in self.values]
        if bad:
            return f"Expected a subset of {self.values} but got {value} ({bad} not allowed)"
        return None

    def options(self) -> list[Any]:
        """The elements one may choose from."""
        return list(self.values)

    def describe(self) -> str:
        """``any of [...]``."""
        return f"any of {self.values!r}"


class AdvisedDict(AdvisedValue):
    """A dict whose keys are those of ``value``, each advised by its own advice.

    Attributes:
        value: The advice for each key.
        allow_extras: Whether keys not in ``value`` are accepted.
    """

    tag: Literal["@dfm-advised-dict"] = Field("@dfm-advised-dict", repr=False)
    value: dict[str, AnyAdvisedValue]
    allow_extras: bool = False

    def __init__(
        self,
        value: Mapping[str, AdvisedValue],
        allow_extras: bool = False,
        break_on_advice: bool = False,
        **data: Any,
    ) -> None:
        """``AdvisedDict({"unit": AdvisedOneOf(["K", "C"])}, allow_extras=True)``."""
        data.update(value=dict(value), allow_extras=allow_extras)
        data.update(break_on_advice=break_on_advice)
        super().__init__(**data)

    def validation_error(self, value: Any) -> str | None:
        """See :meth:`AdvisedValue.validation_error`."""
        if not isinstance(value, Mapping):
            return f"Expected a dict with keys {sorted(self.value)} but got {value!r}"
        problems = []
        for key, advice in self.value.items():
            if key not in value:
                problems.append(f"missing key {key!r}")
                continue
            error = advice.validation_error(value[key])
            if error is not None:
                problems.append(f"key {key!r}: {error}")
        extra = [k for k in value if k not in self.value]
        if extra and not self.allow_extras:
            problems.append(f"unexpected keys {extra} (allowed: {list(self.value)})")
        return "; ".join(problems) or None

    def is_satisfiable(self) -> bool:
        """Whether every key can be satisfied."""
        return all(advice.is_satisfiable() for advice in self.value.values())

    def describe(self) -> str:
        """``a dict {key: ..., ...}``."""
        keys = ", ".join(f"{k!r}: {v.describe()}" for k, v in self.value.items())
        more = ", ..." if self.allow_extras else ""
        return f"a dict {{{keys}{more}}}"


def _parse_date(value: Any) -> Any:
    # JSON carries dates as ISO strings; the form tells a date from a datetime, which
    # pydantic's union would not (it reads "2024-01-01" back as either).
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value)
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value  # pydantic reports it
    return value


class AdvisedDateRange(AdvisedValue):
    """A date (or datetime) between ``start`` and ``end``, both included; None is open.

    Dates compare as dates; a datetime is compared with a date bound by its date.
    """

    tag: Literal["@dfm-advised-date-range"] = Field("@dfm-advised-date-range", repr=False)
    start: dt.datetime | dt.date | None = None
    end: dt.datetime | dt.date | None = None

    def __init__(
        self,
        start: dt.date | None = None,
        end: dt.date | None = None,
        break_on_advice: bool = False,
        **data: Any,
    ) -> None:
        """``AdvisedDateRange(date(2020, 1, 1), date(2020, 12, 31))``."""
        data.update(start=start, end=end, break_on_advice=break_on_advice)
        super().__init__(**data)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        return _parse_date(value)

    def validation_error(self, value: Any) -> str | None:
        """See :meth:`AdvisedValue.validation_error`; ISO strings are accepted."""
        given = _parse_date(value)
        if not isinstance(given, dt.date):
            return f"Expected a date between {self.start} and {self.end} but got {value!r}"
        try:
            if self.start is not None and _before(given, self.start):
                return f"Expected a date between {self.start} and {self.end} but got {value}"
            if self.end is not None and _before(self.end, given):
                return f"Expected a date between {self.start} and {self.end} but got {value}"
        except TypeError as e:  # naive against aware datetimes
            return f"Cannot compare {value} with the range {self.start} .. {self.end}: {e}"
        return None

    def is_satisfiable(self) -> bool:
        """Whether the range is not empty."""
        if self.start is None or self.end is None:
            return True
        try:
            return not _before(self.end, self.start)
        except TypeError:
            return True

    def describe(self) -> str:
        """``a date from ... to ...``."""
        start = "any time" if self.start is None else self.start.isoformat()
        end = "any time" if self.end is None else self.end.isoformat()
        return f"a date from {start} to {end}"


def _before(a: dt.date, b: dt.date) -> bool:
    if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
        a = a.date() if isinstance(a, dt.datetime) else a
        b = b.date() if isinstance(b, dt.datetime) else b
    return a < b


class AdvisedError(AdvisedValue):
    """No value is good here: ``msg`` says why (e.g. no sizes for this color)."""

    tag: Literal["@dfm-advised-error"] = Field("@dfm-advised-error", repr=False)
    msg: str

    def __init__(self, msg: str, **data: Any) -> None:
        """``AdvisedError("no sizes in blue")``."""
        data.update(msg=msg)
        super().__init__(**data)

    def validation_error(self, value: Any) -> str | None:
        """Always ``msg``."""
        return self.msg

    def options(self) -> list[Any]:
        """None."""
        return []

    def is_satisfiable(self) -> bool:
        """Never."""
        return False

    def describe(self) -> str:
        """``no good value: msg``."""
        return f"no good value: {self.msg}"


class Okay(AdvisedValue):
    """Any value is good (an advisor that only validates returns this)."""

    tag: Literal["@dfm-advised-okay"] = Field("@dfm-advised-okay", repr=False)

    def validation_error(self, value: Any) -> str | None:
        """Never an error."""
        return None

    def describe(self) -> str:
        """``any value``."""
        return "any value"


AnyAdvisedValue = Annotated[
    AdvisedLiteral
    | AdvisedOneOf
    | AdvisedSubsetOf
    | AdvisedDict
    | AdvisedDateRange
    | AdvisedError
    | Okay,
    Field(discriminator="tag"),
]
"""Any advised value, told apart in JSON by its ``tag``."""

ADVISED_TAGS = frozenset(
    {
        "@dfm-advised-literal",
        "@dfm-advised-one-of",
        "@dfm-advised-subset-of",
        "@dfm-advised-dict",
        "@dfm-advised-date-range",
        "@dfm-advised-error",
        "@dfm-advised-okay",
    }
)
