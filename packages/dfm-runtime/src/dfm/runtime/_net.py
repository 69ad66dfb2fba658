"""Net: the base of the generated ``ThisNet`` classes, and the metadata they declare.

A generated net module uses only the public names of ``dfm.runtime``: the spec classes
below, and the methods of :class:`Net` (``run_sync``, ``materialize``, ``fail``, and the
``send`` it takes from the job's context).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from dfm.api import ErrorToken, Frame, describe_node

from ._context import FLOW, SKIP, DfmContext, error_token
from ._pool import DaemonThreadPool

_R = TypeVar("_R")

FireMethod = Callable[[Frame, Sequence[Any]], Coroutine[Any, Any, None]]

PLAIN_TYPES: frozenset[type] = frozenset(
    {int, float, str, bool, type(None), list, dict, tuple, bytes, set, frozenset}
)
"""Result types that are never streams (a quick check before :func:`is_stream`)."""


def is_stream(value: Any) -> bool:
    """Whether ``value`` is a generator or other iterator (sync or async).

    Such a result is collected into a list before it is sent anywhere, except to the
    ForEach that iterates it as it is produced.
    """
    return isinstance(value, (Iterator, AsyncIterator)) and not isinstance(value, (str, bytes))


@dataclass(frozen=True, slots=True)
class SendSpec:
    """One ``TokenSend`` of a transition, as data for the runner.

    The runner uses it to forward errors, skips and closes, and to perform the sends of
    transitions without a body. ``index`` names the input a value is taken from
    (``PlaceValue``), else ``value`` is a constant (or None for a body variable).

    Attributes:
        site: The target site.
        place: The target place.
        is_yield: Whether the target is the application.
        node_id: The node id the token carries.
        index: Input position of a forwarded place value, or -1.
        value: The constant sent (FlowInfo, StopToken or a decoded literal), if any.
        sel: Selection applied to a forwarded value.
        issubs: How to select (see :func:`dfm.runtime.select`).
        done: Whether this is the report of the frame's outcome (to the status
            transition or a collect), which carries the errors of the earlier sends of
            the firing (see :func:`done_value`).
        result: Whether it sends the value the block computes (an element, a collected
            sequence, a cache result).
        elements: Whether it carries a fan-out's element batches to a scatter.
        ack: Whether it acknowledges one element to a sequential fan-out (per element
            only: acks take no part in closes or stop).
        quiet: A report sent only when it carries an error (to a collect, which learns
            from closes that elements are done).
        guarded: A send of an If fused into this transition (see :meth:`Net.guard_failed`).
    """

    site: str
    place: str
    is_yield: bool = False
    node_id: int | str | None = None
    index: int = -1
    value: Any = None
    sel: int | str | None = None
    issubs: bool | None = None
    done: bool = False
    result: bool = False
    elements: bool = False
    ack: bool = False
    quiet: bool = False
    guarded: bool = False


def done_value(errors: Iterable[ErrorToken | None]) -> Any:
    """What a firing reports to the status transition after its sends.

    A control token when every send went out; else the merged ErrorToken of the sends
    whose value could not be selected or serialized (so that their frame fails).
    """
    if isinstance(errors, (tuple, list)) and errors.count(None) == len(errors):
        return FLOW  # the common case, checked in C
    failed = [e for e in errors if e is not None]
    return ErrorToken.merge(failed) if failed else FLOW


BlockKind = Literal["fan_out", "scatter", "collect", "cond", "cache_lookup", "cache_write"]


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """The block kind of a transition and its parameters (inputs by position).

    Attributes:
        kind: What the runtime runs for the transition.
        seq: fan_out: the input holding the sequence.
        sequential: fan_out: one element at a time.
        ack: fan_out: the input receiving per-element acks, or -1.
        key: cache_lookup: the input holding the key, or -1 for ``key_value``.
        key_value: cache_lookup: the literal key.
        lookup: cache_write: the input holding the lookup's outcome.
        value: cache_write: the input holding the value to cache, or -1 for
            ``literal``.
        literal: cache_write: the literal value to cache.
    """

    kind: BlockKind
    seq: int = -1
    sequential: bool = False
    ack: int = -1
    key: int = -1
    key_value: Any = None
    lookup: int = -1
    value: int = -1
    literal: Any = None


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """One transition of a generated net, as data for the runner.

    Attributes:
        name: The transition's name in the NetIR.
        node_id: The transition's node id (for errors not tied to one statement).
        inputs: The input places, in the order the fire method receives their values.
        sends: The transition's sends, in order.
        fire: Name of the ``async def fire(self, frame, data)`` method, or None when the
            transition has no body (the runner then performs ``sends`` itself).
        eager: Whether the runner may start the fire coroutine outside a Task (true
            when the body awaits nothing but sync adapters run in the executor).
        depth: Its frames have ``depth + 1`` levels.
        input_depths: The depth of each input (empty: all at ``depth``).
        block: The block kind, for block transitions.
        cond: Name of the ``def cond(self, data) -> bool`` method of a condition.
    """

    name: str
    node_id: int | str | None
    inputs: tuple[str, ...]
    sends: tuple[SendSpec, ...]
    fire: str | None = None
    eager: bool = False
    depth: int = 0
    input_depths: tuple[int, ...] = ()
    block: BlockSpec | None = None
    cond: str | None = None

    def depth_of(self, index: int) -> int:
        """The depth of input ``index``."""
        return self.input_depths[index] if self.input_depths else self.depth


class Net:
    """Base of a generated site net (``ThisNet``): metadata plus one fire method per body.

    A fire method receives the frame and the input values (in ``inputs`` order), runs the
    body, and sends with :attr:`send`. If the body raises, it calls :meth:`fail` and
    returns; it never lets an exception out.

    Args:
        site: The ``ThisSite`` instance adapters are called on.
        ctx: The job's context on this site.
        loop: The runner's event loop.
        executor: Where sync adapters run (None: the loop's default executor).
        on_internal_failure: Called when the runtime itself fails (e.g. the executor).

    Attributes:
        send: The context's :meth:`DfmContext.send`.
    """

    SITE: ClassVar[str] = ""
    HOMESITE: ClassVar[str] = ""
    PIPELINE_NAME: ClassVar[str | None] = None
    FINGERPRINT: ClassVar[str] = ""
    EXTERNAL: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    TRANSITIONS: ClassVar[tuple[TransitionSpec, ...]] = ()
    OPERATIONS: ClassVar[Mapping[int | str, str]] = {}
    """Node id → the operation's API name (or the block's kind), for messages only."""

    __slots__ = ("site", "ctx", "send", "_loop", "_executor", "_on_internal_failure")

    def __init__(
        self,
        site: Any,
        ctx: DfmContext,
        loop: asyncio.AbstractEventLoop,
        executor: Executor | None,
        on_internal_failure: Callable[[BaseException], None],
    ) -> None:
        """Bind the net to a site, a context and a loop."""
        self.site = site
        self.ctx = ctx
        self.send = ctx.send
        self._loop = loop
        self._executor = executor
        self._on_internal_failure = on_internal_failure

    def run_sync(self, fn: Callable[..., _R], /, **kwargs: Any) -> asyncio.Future[_R]:
        """Run a sync adapter call in the executor; await the result on the loop.

        The call sees the caller's context variables (as ``asyncio.to_thread`` does).
        """
        context = contextvars.copy_context()
        try:
            executor = self._executor
            if type(executor) is DaemonThreadPool:  # a site's pool: batched completions
                return executor.run_in_context(self._loop, context, fn, kwargs)
            call = functools.partial(context.run, fn, **kwargs)
            return self._loop.run_in_executor(executor, call)
        except RuntimeError as e:  # the executor is shut down: the site cannot run anything
            self._on_internal_failure(e)
            raise

    async def materialize(self, value: Any) -> Any:
        """A generator's (or iterator's) elements as a list; anything else as is.

        Sync iterators are drained in the executor (they may block), async ones on the
        loop.
        """
        if isinstance(value, AsyncIterator):
            return [item async for item in value]
        if is_stream(value):
            call = functools.partial(contextvars.copy_context().run, list, value)
            return await self._loop.run_in_executor(self._executor, call)
        return value

    def guard_failed(
        self, index: int, frame: Frame, node_id: int | str | None, error: Exception
    ) -> None:
        """The fused If's condition raised: its error goes to the guarded sends only."""
        ctx = self.ctx
        token = error_token(
            type(error).__name__,
            f"{describe_node('If', node_id)}: the condition cannot be evaluated: {error}",
            error,
            node_id,
            ctx.this_site,
            "If",
        )
        send = self.send
        for s in self.TRANSITIONS[index].sends:
            if s.guarded:
                send(s.site, s.place, frame, token, is_yield=s.is_yield, node_id=s.node_id)

    def guard_skipped(self, index: int, frame: Frame) -> None:
        """The fused If is false: a skip to its non-yield sends, nothing to its yields."""
        send = self.send
        for s in self.TRANSITIONS[index].sends:
            if s.guarded and not s.is_yield:
                send(s.site, s.place, frame, SKIP, node_id=s.node_id)

    def fail(
        self, index: int, frame: Frame, node_id: int | str | None, error: BaseException
    ) -> None:
        """Send the body's error to every target of transition ``index``.

        Any exception of an adapter is an error of the frame, whatever its class (an
        adapter must not take the site down with ``sys.exit()``); a cancellation of the
        firing itself is re-raised for the runner.
        """
        if isinstance(error, asyncio.CancelledError):
            raise error
        token = ErrorToken.from_exception(
            error,
            node_id=node_id,
            site=self.ctx.this_site,
            operation=self.OPERATIONS.get(node_id) if node_id is not None else None,
        )
        send = self.send
        for s in self.TRANSITIONS[index].sends:
            if not s.ack:
                send(s.site, s.place, frame, token, is_yield=s.is_yield, node_id=s.node_id)
