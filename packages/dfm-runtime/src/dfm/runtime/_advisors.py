"""Field advisors: adapter methods that advise the values of one parameter each."""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dfm.api import Advise

_F = TypeVar("_F", bound=Callable[..., Any])

_MARK = "__dfm_field_advisor__"


@dataclass(frozen=True)
class AdvisorSpec:
    """What ``@field_advisor`` recorded on a method.

    Attributes:
        field: The adapter parameter it advises.
        order: Where it runs among the adapter's advisors (see :func:`field_advisor`).
    """

    field: str
    order: int


def field_advisor(field: str, order: int = 0) -> Callable[[_F], _F]:
    """Declare an adapter method as the advisor of one ``body`` parameter.

    The method is called as ``advisor(value, context)`` (sync or ``async``) and returns
    an advised value from :mod:`dfm.api.discovery` (``AdvisedOneOf([...])``, ...).
    ``value`` is what the pipeline gave for the field, or an ``Advise()`` marker when
    the field is to be advised (given as ``Advise()``, a PlaceParam, or not given);
    ``context.get(other)`` is the value of another field, given by the pipeline or
    assumed on the branch being explored.

    Advisors run in ``order``: non-negative orders ascending first, then negative ones
    ascending, so ``-1`` is the very last; equal orders run in definition order. An
    advisor that fields depend on (e.g. ``color`` before ``size``) gets the lower order.

    Example::

        class Shirts:
            @field_advisor("color", order=0)
            async def advise_color(self, value, context):
                return AdvisedOneOf(["red", "green"], split_on_advice=True)

            @field_advisor("size", order=1)
            def advise_size(self, value, context):
                if context.get("color") == "red":
                    return AdvisedOneOf(["S", "M"])
                return AdvisedLiteral("L")

            async def body(self, color: str, size: str) -> str: ...

    Args:
        field: The name of the ``body`` parameter advised.
        order: The advisor's place in the order.

    Raises:
        TypeError: ``field`` is not a str or ``order`` not an int.
        ValueError: ``field`` is not an identifier.
    """
    if not isinstance(field, str):
        raise TypeError(f"field_advisor(field=...) takes a parameter name, not {field!r}")
    if not field.isidentifier() or keyword.iskeyword(field):
        raise ValueError(
            f"field_advisor({field!r}): the field must be the name of a body parameter "
            "(an identifier)"
        )
    if not isinstance(order, int) or isinstance(order, bool):
        raise TypeError(f"field_advisor({field!r}, order=...) takes an int, not {order!r}")

    def mark(fn: _F) -> _F:
        if not callable(fn):
            raise TypeError(f"@field_advisor({field!r}) decorates a method, not {fn!r}")
        setattr(fn, _MARK, AdvisorSpec(field, order))
        return fn

    return mark


@dataclass(frozen=True)
class Advisor:
    """An advisor of an adapter class: the method's name and its spec."""

    name: str
    spec: AdvisorSpec


_known: dict[type, tuple[Advisor, ...]] = {}


def advisors_of(cls: type) -> tuple[Advisor, ...]:
    """The advisors of an adapter class, in the order they run.

    A subclass's method replaces its parent's of the same name (undecorated: removed).

    Raises:
        TypeError: Two advisors for one field.
    """
    known = _known.get(cls)
    if known is not None:
        return known
    found: dict[str, AdvisorSpec | None] = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            target = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            spec = getattr(target, _MARK, None)
            found[name] = spec if isinstance(spec, AdvisorSpec) else None
    advisors = [Advisor(name, spec) for name, spec in found.items() if spec is not None]
    by_field: dict[str, str] = {}
    for a in advisors:
        other = by_field.setdefault(a.spec.field, a.name)
        if other != a.name:
            raise TypeError(
                f"Adapter {cls.__qualname__} has two advisors for field {a.spec.field!r} "
                f"({other} and {a.name}); keep one"
            )
    # sorted() is stable: equal orders keep definition order.
    ordered = tuple(sorted(advisors, key=lambda a: (a.spec.order < 0, a.spec.order)))
    _known[cls] = ordered
    return ordered


_ADVISE = Advise()
_UNSET: Any = object()


class AdviceContext:
    """What an advisor knows about the other fields (its ``context`` argument).

    Args:
        given: The parameters the pipeline gave (``Advise()`` markers included).
        assumed: The values assumed on the branch being explored.
    """

    __slots__ = ("_given", "_assumed")

    def __init__(self, given: Mapping[str, Any], assumed: Mapping[str, Any]) -> None:
        """A read-only view of ``given`` overlaid by ``assumed``."""
        self._given = given
        self._assumed = assumed

    def get(self, field: str, default: Any = None) -> Any:
        """The value of ``field``: assumed on this branch, else given, else ``default``.

        A field to be advised that no branch assumed yet has no value (``default``).
        """
        if field in self._assumed:
            return self._assumed[field]
        value = self._given.get(field, _UNSET)
        if value is _UNSET or isinstance(value, Advise):
            return default
        return value

    def __contains__(self, field: object) -> bool:
        """Whether ``field`` has a value (see :meth:`get`)."""
        return isinstance(field, str) and self.get(field, _UNSET) is not _UNSET

    def __iter__(self) -> Iterator[str]:
        """The fields that have a value."""
        names = dict.fromkeys([*self._given, *self._assumed])
        return iter([name for name in names if name in self])

    def __repr__(self) -> str:
        return f"AdviceContext({ {name: self.get(name) for name in self} })"


def advise_marker() -> Advise:
    """The ``Advise()`` value advisors get for a field to be advised."""
    return _ADVISE
