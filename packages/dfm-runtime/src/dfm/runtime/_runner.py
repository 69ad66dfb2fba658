"""NetRunner: fires a site's transitions as tokens arrive, on one asyncio loop.

Matching is O(1) per token: each input place is a dict frame → value and each
transition counts, per frame, how many of its inputs hold a value; the delivery that
completes the count fires the transition for that frame. Nothing is ever rescanned.

This module holds its life (set-up, start, cancel, end); the input side (deliveries,
the FIFO queue, inline matching) is :class:`~._deliveries.Deliveries`, the firing side
:class:`~._firing.Firings`. Transitions of depth 0 with depth-0 inputs (every
straight-line pipeline) are matched inline; the others (ForEach bodies, outer values,
scatters, collects) have a state object of their own that calls back into the runner
(:meth:`NetRunner.ready`, :meth:`NetRunner.forward_close`, :meth:`NetRunner.finish`, …).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from dfm.api import Frame

from . import _telemetry
from ._async_firings import AsyncFirings
from ._context import DfmContext
from ._deliveries import Deliveries
from ._eager import SyncFirings
from ._net import Net, TransitionSpec
from ._telemetry_run import SiteRun, traced_fire
from ._transition import (
    TransitionState,
)


def _not_started(*args: Any, **kwargs: Any) -> asyncio.Task[Any]:
    raise RuntimeError("The NetRunner was not started")


def _state_for(spec: TransitionSpec) -> TransitionState:
    block = spec.block
    if block is None and not spec.depth and not spec.input_depths:
        return TransitionState(spec)  # straight-line: the common case
    if block is not None and block.kind == "scatter":
        from ._scatter import ScatterState

        return ScatterState(spec)
    if block is not None and block.kind == "collect":
        from ._collect import CollectState

        return CollectState(spec)
    deep = spec.depth > 0 or any(d != spec.depth for d in spec.input_depths)
    if deep or (block is not None and block.ack >= 0):
        from ._scoped import ScopedState

        return ScopedState(spec)
    return TransitionState(spec)


class NetRunner(Deliveries):
    """Runs one site's net for one job.

    Every method except :meth:`post_threadsafe` must be called on the runner's loop
    thread. Tokens delivered before :meth:`start` are kept and processed by it.

    Args:
        net_class: The generated ``ThisNet`` class (from ``dfm.runtime.codegen.load_net_module``).
        ctx: The job's context on this site; the runner attaches itself to it.
        site: The ``ThisSite`` instance.
        executor: Where sync adapters run; a target shares one per site. None: the
            loop's default executor.
        loop: The loop to run on. None: the running loop now, else the one running
            when :meth:`start` is called.
        trace_context: W3C trace context headers of the job (the parent of this site's
            run span), as the application's target captured them.
    """

    def __init__(
        self,
        net_class: type[Net],
        ctx: DfmContext,
        site: Any,
        *,
        executor: Executor | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare the places and transitions; nothing runs before :meth:`start`."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop = loop
        self._net_class = net_class
        self._site = site
        self._executor = executor
        self.ctx = ctx
        self.logger = ctx.logger
        self._net: Net | None = None
        self._states: list[TransitionState] = []
        self._place_index: dict[str, tuple[TransitionState, int]] = {}
        self._blocks: dict[int, Any] = {}
        for spec in net_class.TRANSITIONS:
            state = _state_for(spec)
            self._states.append(state)
            for i, place in enumerate(spec.inputs):
                if place in self._place_index:
                    other = self._place_index[place][0].spec.name
                    raise ValueError(
                        f"Place {place!r} is an input of both {other!r} and {spec.name!r}"
                    )
                self._place_index[place] = (state, i)
        self._external: dict[str, tuple[str, ...]] = dict(net_class.EXTERNAL)
        self._queue: deque[tuple[str, Frame, Any]] = deque()
        self._draining = True  # until start()
        self._started = False
        self._finished = False
        self._nfinished = 0
        # Firings run in Tasks named after the runner: cancel() finds them among the loop's
        # tasks, so the hot path keeps no set of its own.
        self._task_name = f"dfm-runner-{id(self):x}"
        self._done: asyncio.Future[None] | None = None
        self._context = contextvars.copy_context()
        self._create_task: Callable[..., asyncio.Task[Any]] = _not_started
        self._trace_context = trace_context
        self._site_run: SiteRun | None = None
        self._cache: Any = None
        self._sync = SyncFirings(self._body_done, self._sync_fallback, self._internal_failure)
        self._async = AsyncFirings(self._new_task, self._body_done, self._internal_failure)
        ctx._attach(self._deliver, net_class.OPERATIONS)

    # -- lifecycle -------------------------------------------------------------------

    @property
    def done(self) -> asyncio.Future[None]:
        """Resolves when every transition finished; fails only on an internal error."""
        if self._done is None:
            self._done = self._require_loop().create_future()
        return self._done

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the runner runs on (None until known)."""
        return self._loop

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    "The NetRunner has no event loop yet: pass loop= or call start() on the "
                    "loop that should run it"
                ) from None
        return self._loop

    def start(self) -> None:
        """Start processing tokens (those delivered earlier first)."""
        if self._started:
            return
        loop = self._require_loop()
        self._started = True
        if sys.version_info >= (3, 12):
            self._create_task = functools.partial(
                asyncio.Task, loop=loop, name=self._task_name, eager_start=True
            )
        else:
            # asyncio.Task directly: loop.create_task is a Python wrapper around it.
            self._create_task = functools.partial(asyncio.Task, loop=loop, name=self._task_name)
        self._context = contextvars.copy_context()
        if _telemetry.ENABLED:
            self._site_run = SiteRun.start(
                self._context, self.ctx, self._net_class.PIPELINE_NAME, self._trace_context
            )
        net = self._net_class(self._site, self.ctx, loop, self._executor, self._internal_failure)
        self._net = net
        for state in self._states:
            self._bind(net, state)
        if not self._states:
            self._end(None)
            return
        self._draining = False
        if self._queue:
            self._drain()

    def _bind(self, net: Net, state: TransitionState) -> None:
        spec = state.spec
        kind = state.kind
        if spec.fire is not None:
            state.fire = getattr(net, spec.fire)
            if self._site_run is not None and _telemetry.TRANSITION_SPANS:
                state.fire = traced_fire(state.fire, spec, self.ctx.this_site)
        if spec.cond is not None:
            state.cond = getattr(net, spec.cond)
        if kind == "fan_out":
            from ._fanout import FanOut

            fan_out = FanOut(self, state)
            self._blocks[id(state)] = fan_out
            state.fire = fan_out.run
        elif kind in ("cache_lookup", "cache_write"):
            from ._cache import CacheBlock, SiteCache

            if self._cache is None:
                self._cache = SiteCache(self._site, self.ctx.federation_name, self.ctx.this_site)
            block = CacheBlock(self, state, self._cache)
            self._blocks[id(state)] = block
            state.fire = block.lookup if kind == "cache_lookup" else block.store

    @property
    def finished_running(self) -> bool:
        """Whether the runner ended (every transition finished, or it was cancelled)."""
        return self._finished

    @property
    def executor(self) -> Executor | None:
        """Where sync work runs (sync adapters, generators, cache files)."""
        return self._executor

    def cancel(self) -> None:
        """Cancel running firings and finish now: ``done`` resolves, nothing more is sent."""
        self._end(None)

    def post_threadsafe(self, fn: Any, *args: Any) -> None:
        """Schedule ``fn(*args)`` on the runner's loop; callable from any thread."""
        self._require_loop().call_soon_threadsafe(fn, *args)

    def _new_task(self, coro: Any) -> asyncio.Task[Any]:
        # A Task of this runner (found by name on cancel) for AsyncFirings' workers.
        return self._create_task(coro, context=self._context.copy())

    def release(self) -> None:
        """Let go of what a finished runner's parts hold of it (nothing, if still running).

        The context, the net, the transitions' fire methods and the firings hold bound
        methods of the runner, which holds them: left so, every job would leave a
        reference cycle of some forty objects that only the garbage collector frees,
        and its passes cost a warm job about a tenth of its CPU. Released, the job's
        objects go by reference counting as soon as the site lets go of the runner.
        The owner calls this once nothing can call the runner again (a later turn of
        the loop than the one that ended it: the end may come from inside a firing).
        """
        if not self._finished or any(state.running for state in self._states):
            return  # a firing still running needs all of it; the collector frees it then
        self.ctx._detach()
        self._net = None
        for state in self._states:
            state.fire = state.cond = None
        self._blocks.clear()
        del self._sync, self._async

    def _internal_failure(self, error: BaseException) -> None:
        if not self._finished:
            self.logger.error(
                "Internal failure of the net of site %s, job %s; stopping it",
                self.ctx.this_site,
                self.ctx.job_id,
                exc_info=error,
            )
            self._end(error)

    def _end(self, error: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        self._draining = True  # what arrives from now on is dropped, not delivered
        self.ctx._close()
        self._queue.clear()
        loop = self._loop
        running = any(state.running for state in self._states)
        if running and loop is not None and not loop.is_closed():
            for task in asyncio.all_tasks(loop):
                if task.get_name() == self._task_name:
                    task.cancel()
        run, self._site_run = self._site_run, None
        if run is not None:
            run.end(error)
        self._sync.cancel()
        self._async.cancel()
        done = self.done
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
