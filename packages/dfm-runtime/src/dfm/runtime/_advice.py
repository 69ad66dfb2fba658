"""The advice builder: an adapter's field advisors, walked over partial assignments.

Advisors run in order. The *frontier* holds the points where advice continues, each
with the values assumed on its branch. For each advisor and each frontier point:

* a field to be advised gets a node: a ``BranchFieldAdvice`` with one branch per value
  for an ``AdvisedOneOf(split_on_advice=True)`` (each branch assumes its value), else a
  ``SingleFieldAdvice`` (an ``AdvisedLiteral`` is assumed by later advisors); an
  ``AdvisedError`` ends the path with an ``ErrorFieldAdvice``, ``break_on_advice``
  with a ``PartialFieldAdvice``;
* a given value is checked against the advice: a bad one ends the path with
  ``SingleFieldAdvice(field, value, edge=ErrorFieldAdvice(reason))``, a good one
  adds no node;
* an advisor that raises (or returns something that is not advice) ends the path
  with an ``ErrorFieldAdvice`` naming it: discovery never fails a job.

Nothing advised (no advisors, or every given value good) gives None.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

from pydantic_core import to_jsonable_python

from dfm.api import Advise, NodeId
from dfm.api.discovery import (
    AdvisedError,
    AdvisedOneOf,
    AdvisedValue,
    AnyFieldAdvice,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    FieldAdvice,
    PartialFieldAdvice,
    SingleFieldAdvice,
)

from ._advisors import AdviceContext, Advisor, advise_marker, advisors_of
from ._pool import DaemonThreadPool

MAX_ADVISOR_CALLS = 10_000
"""Advisor calls per operation; beyond them the remaining paths end in PartialFieldAdvice
(split advice multiplies paths, and a site must not spend itself on one request)."""

_pool: DaemonThreadPool | None = None
_pool_lock = threading.Lock()


def _sync_pool() -> DaemonThreadPool:
    # Sync advisors run off the site's event loop, so a slow one (a catalogue lookup)
    # does not hold up the site's other jobs.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = DaemonThreadPool(8, "dfm-advisors")
        return _pool


class _Node:
    """A Single or Branch node while it is built (edges are filled in later)."""

    __slots__ = ("field", "value", "branches", "edges")

    def __init__(self, field: str, value: Any, branches: list[Any] | None) -> None:
        self.field = field
        self.value = value
        self.branches = branches  # branch values, or None for a single node
        self.edges: list[_Node | FieldAdvice | None] = [None] * (len(branches or ()) or 1)

    def finish(self) -> AnyFieldAdvice:
        edges = [e.finish() if isinstance(e, _Node) else e for e in self.edges]
        if self.branches is None:
            return SingleFieldAdvice(self.field, self.value, edges[0])  # type: ignore[arg-type]
        return BranchFieldAdvice(self.field, list(zip(self.branches, edges, strict=True)))  # type: ignore[arg-type]


_Attach = Callable[["_Node | FieldAdvice"], None]


class _Point:
    """Where advice continues: a setter for the edge, and the branch's assumptions."""

    __slots__ = ("attach", "assumed")

    def __init__(self, attach: _Attach, assumed: dict[str, Any]) -> None:
        self.attach = attach
        self.assumed = assumed


def _edge_setter(node: _Node, index: int) -> _Attach:
    def attach(child: _Node | FieldAdvice) -> None:
        node.edges[index] = child

    return attach


def _describe(adapter: Any, advisor: Advisor) -> str:
    return f"{type(adapter).__qualname__}.{advisor.name} (advisor of {advisor.spec.field!r})"


async def _run_advisor(adapter: Any, advisor: Advisor, value: Any, context: AdviceContext) -> Any:
    method = getattr(adapter, advisor.name)
    if inspect.iscoroutinefunction(method):
        result = await method(value, context)
    else:
        call = functools.partial(contextvars.copy_context().run, method, value, context)
        result = await asyncio.get_running_loop().run_in_executor(_sync_pool(), call)
    if inspect.isawaitable(result):
        result = await result
    return result


async def build_advice(adapter: Any, /, **params: Any) -> AnyFieldAdvice | None:
    """Run an adapter's field advisors for the parameters of one operation call.

    Args:
        adapter: The adapter instance (its class declares the advisors).
        **params: The adapter parameters as the operation would pass them to ``body``;
            ``Advise()`` (or leaving a parameter out) asks for advice on it.

    Returns:
        The advice tree (see the module docstring), or None when nothing is advised.
        Never raises for what advisors do: their failures become ``ErrorFieldAdvice``.
    """
    try:
        advisors = advisors_of(type(adapter))
    except TypeError as e:
        return ErrorFieldAdvice(str(e))
    root: list[_Node | FieldAdvice | None] = [None]

    def attach_root(child: _Node | FieldAdvice) -> None:
        root[0] = child

    frontier = [_Point(attach_root, {})]
    calls = 0
    for advisor in advisors:
        field = advisor.spec.field
        given = params.get(field, advise_marker())
        advised = isinstance(given, Advise)
        following: list[_Point] = []
        for point in frontier:
            if calls >= MAX_ADVISOR_CALLS:
                point.attach(PartialFieldAdvice())
                continue
            calls += 1
            try:
                advice = await _run_advisor(
                    adapter, advisor, given, AdviceContext(params, point.assumed)
                )
                if not isinstance(advice, AdvisedValue):
                    raise TypeError(
                        f"it returned {type(advice).__name__}, not an advised value from "
                        "dfm.api.discovery (AdvisedOneOf, AdvisedLiteral, Okay, ...)"
                    )
                # Advice travels as JSON: a value that cannot is the advisor's error, not
                # a report the site cannot send.
                advice.model_dump(mode="json")
                error = None if advised else advice.validation_error(given)
            except Exception as e:
                message = f"{_describe(adapter, advisor)} failed: {type(e).__name__}: {e}"
                point.attach(ErrorFieldAdvice(message))
                continue
            if not advised:
                if error is None:
                    following.append(point)  # a good given value: nothing to advise
                else:
                    shown = _jsonable(given)
                    point.attach(SingleFieldAdvice(field, shown, ErrorFieldAdvice(error)))
                continue
            following += _advise(point, field, advice)
        frontier = following
        if not frontier:
            break
    result = root[0]
    if isinstance(result, _Node):
        return result.finish()
    return result  # type: ignore[return-value]  # None or an error/partial leaf


def _jsonable(value: Any) -> Any:
    """The given value as advice shows it: itself if JSON can carry it, else its repr."""
    try:
        to_jsonable_python(value)
    except Exception:
        return repr(value)
    return value


def _advise(point: _Point, field: str, advice: AdvisedValue) -> list[_Point]:
    """Attach the node for an advised field; the points where advice continues."""
    if isinstance(advice, AdvisedError):
        point.attach(_leaf(field, advice, ErrorFieldAdvice(advice.msg)))
        return []
    stop = advice.break_on_advice
    if isinstance(advice, AdvisedOneOf) and advice.split_on_advice:
        node = _Node(field, advice, list(advice.values))
        point.attach(node)
        if stop:
            node.edges = [PartialFieldAdvice() for _ in advice.values]
            return []
        return [
            _Point(_edge_setter(node, i), {**point.assumed, field: value})
            for i, value in enumerate(advice.values)
        ]
    node = _Node(field, advice, None)
    point.attach(node)
    if stop:
        node.edges = [PartialFieldAdvice()]
        return []
    assumed = point.assumed
    known, value = advice.assumed_value()
    if known:
        assumed = {**assumed, field: value}
    return [_Point(_edge_setter(node, 0), assumed)]


def _leaf(field: str, value: Any, edge: FieldAdvice) -> _Node:
    node = _Node(field, value, None)
    node.edges = [edge]
    return node


async def discover(target: Any, method: str, /, **params: Any) -> AnyFieldAdvice | None:
    """Call a site's ``discover_<op>`` method; what a discovery net runs per operation.

    Args:
        target: The site (``ThisSite``) instance.
        method: The method's name, ``provider.discover_<op>`` for a provider's.
        **params: The operation's parameters as the pipeline set them (``Advise()``
            for those to be advised).

    Returns:
        The method's advice; an ``ErrorFieldAdvice`` when it fails or returns something
        else than advice (never raises for the site's code).
    """
    try:
        owner = target
        *path, name = method.split(".")
        for attribute in path:
            owner = getattr(owner, attribute)
        result = getattr(owner, name)(**params)
        if inspect.isawaitable(result):
            result = await result
    except Exception as e:
        return ErrorFieldAdvice(f"Discovery with {method} failed: {type(e).__name__}: {e}")
    if result is not None and not isinstance(result, FieldAdvice):
        return ErrorFieldAdvice(
            f"{method} returned {type(result).__name__}, not field advice (see "
            "dfm.runtime.build_advice)"
        )
    return result  # type: ignore[return-value]


def advice_report(
    *entries: tuple[int | str, AnyFieldAdvice | None],
) -> list[tuple[NodeId, AnyFieldAdvice | None]]:
    """The list a site yields to ``_dfm_discovery_``: ``[(NodeId, advice), …]``.

    Args:
        *entries: ``(node ident, advice)`` per operation the site advised.
    """
    return [(NodeId(ident=ident), advice) for ident, advice in entries]
