"""Net: the base of the generated ``ThisNet`` classes, and the metadata they declare."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from dfm.api import ErrorToken, Frame

from ._context import FLOW, DfmContext
from ._pool import DaemonThreadPool

_R = TypeVar("_R")

FireMethod = Callable[[Frame, Sequence[Any]], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class SendSpec:
    """One ``TokenSend`` of a transition, as data for the runner.

    The runner uses it to forward errors and the stop frame, and to perform the sends of
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
        done: Whether this is the report to the status transition, which carries the
            errors of the earlier sends of the firing (see :func:`done_value`).
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


def done_value(errors: Iterable[ErrorToken | None]) -> Any:
    """What a firing reports to the status transition after its sends.

    A control token when every send went out; else the merged ErrorToken of the sends
    whose value could not be selected or serialized (so that their frame fails).
    """
    failed = [e for e in errors if e is not None]
    return ErrorToken.merge(failed) if failed else FLOW


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
    """

    name: str
    node_id: int | str | None
    inputs: tuple[str, ...]
    sends: tuple[SendSpec, ...]
    fire: str | None = None
    eager: bool = False


class Net:
    """Base of a generated site net (``ThisNet``): metadata plus one fire method per body.

    A fire method receives the frame and the input values (in ``inputs`` order), runs the
    body, and sends with ``self.ctx.send``. If the body raises, it calls :meth:`_fail`
    and returns; it never lets an exception out.

    Args:
        site: The ``ThisSite`` instance adapters are called on.
        ctx: The job's context on this site.
        loop: The runner's event loop.
        executor: Where sync adapters run (None: the loop's default executor).
        on_internal_failure: Called when the runtime itself fails (e.g. the executor).
    """

    SITE: ClassVar[str] = ""
    HOMESITE: ClassVar[str] = ""
    PIPELINE_NAME: ClassVar[str | None] = None
    FINGERPRINT: ClassVar[str] = ""
    EXTERNAL: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    TRANSITIONS: ClassVar[tuple[TransitionSpec, ...]] = ()

    __slots__ = ("site", "ctx", "_loop", "_executor", "_on_internal_failure")

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
        self._loop = loop
        self._executor = executor
        self._on_internal_failure = on_internal_failure

    def _run_sync(self, fn: Callable[..., _R], /, **kwargs: Any) -> asyncio.Future[_R]:
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

    def _fail(
        self, index: int, frame: Frame, node_id: int | str | None, error: BaseException
    ) -> None:
        """Send the body's error to every target of transition ``index``.

        Any exception of an adapter is an error of the frame, whatever its class (an
        adapter must not take the site down with ``sys.exit()``); a cancellation of the
        firing itself is re-raised for the runner.
        """
        if isinstance(error, asyncio.CancelledError):
            raise error
        token = ErrorToken.from_exception(error, node_id=node_id, site=self.ctx.this_site)
        send = self.ctx.send
        for s in self.TRANSITIONS[index].sends:
            send(s.site, s.place, frame, token, is_yield=s.is_yield, node_id=s.node_id)
