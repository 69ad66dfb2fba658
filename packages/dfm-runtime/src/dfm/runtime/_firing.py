"""The firing side of a NetRunner: what happens once a frame has its inputs.

Error > skip > value; conditions are decided on the spot; bodies and block transitions
that wait on something run in an asyncio Task each; the stop frame finishes a
transition once nothing of it runs. The transition states (``_scoped``, ``_scatter``,
``_collect``) call back into these methods.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from dfm.api import ErrorToken, Frame, SkipToken, describe_node

from . import _telemetry
from ._async_firings import AsyncFirings
from ._context import DfmContext, error_token
from ._eager import SyncFirings, resume
from ._net import Net
from ._telemetry_run import SiteRun
from ._transition import (
    TransitionState,
    check_values,
    incomplete,
    send_close,
    send_error,
    send_plain,
    send_skip,
    send_stop,
)

_EAGER_TASKS = sys.version_info >= (3, 12)


class Firings:
    """Firing, skipping, failing and finishing transitions (the base of NetRunner)."""

    ctx: DfmContext
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    _states: list[TransitionState]
    _blocks: dict[int, Any]
    _context: contextvars.Context
    _create_task: Callable[..., asyncio.Task[Any]]
    _finished: bool
    _nfinished: int
    _site_run: SiteRun | None
    _sync: SyncFirings
    _async: AsyncFirings

    _net_class: type[Net]

    def _internal_failure(self, error: BaseException) -> None:
        raise NotImplementedError

    def _operation(self, state: TransitionState) -> str | None:
        # Only for messages: what the failed transition's node is (an operation, a block).
        node_id = state.spec.node_id
        return None if node_id is None else self._net_class.OPERATIONS.get(node_id)

    def _end(self, error: BaseException | None) -> None:
        raise NotImplementedError

    # -- what the transition states call -----------------------------------------------
    def late_token(self, state: TransitionState, i: int, frame: Frame) -> None:
        """A token for a transition that already finished: dropped (a sender's bug)."""
        self.logger.error(
            "Transition %s of site %s already finished; dropped a token for %s, frame %s",
            state.spec.name,
            self.ctx.this_site,
            state.spec.inputs[i],
            frame,
        )

    def duplicate(self, state: TransitionState, i: int, frame: Frame) -> None:
        """A second value for the same frame on one place: the frame gets an ErrorToken."""
        place = state.spec.inputs[i]
        self.logger.error(
            "Place %s of site %s received a second value for frame %s (a bug in the "
            "sender); the frame gets an ErrorToken",
            place,
            self.ctx.this_site,
            frame,
        )
        dup = error_token(
            "DuplicateToken",
            f"Place {place!r} received two values for frame {frame}",
            None,
            state.spec.node_id,
            self.ctx.this_site,
            self._operation(state),
        )
        slot = state.places[i]
        key: Any = frame
        if frame not in slot:  # an outer value, held by prefix
            key = frame.frame
        old = slot.get(key)
        slot[key] = ErrorToken.merge([old, dup]) if isinstance(old, ErrorToken) else dup

    def incomplete(self, state: TransitionState, frames: list[Frame]) -> None:
        """Frames that can no longer get all their inputs: an error for each."""
        for frame, token in incomplete(state, frames, self.ctx.this_site):
            send_error(self.ctx, state.spec, frame, token)

    def forward_close(self, state: TransitionState, prefix: Frame) -> None:
        """``close(prefix)`` to every non-yield target of ``state``."""
        send_close(self.ctx, state.spec, prefix)

    def fan_out_ack(self, state: TransitionState, frame: Frame) -> None:
        """A sequential fan-out's element is done."""
        self._blocks[id(state)].acknowledge(frame)

    # -- firing ----------------------------------------------------------------------
    def ready(self, state: TransitionState, frame: Frame, values: list[Any]) -> None:
        """Frame ``frame`` of ``state`` has all its inputs: error, skip, or fire."""
        kind = state.kind
        if kind == "cache_write":
            if self._blocks[id(state)].ready(frame, values):
                self._start(state, frame, values, self._context.copy())
            return
        if len(values) == 1:
            special = values[0]
            if type(special) is not ErrorToken and type(special) is not SkipToken:
                special = None
        else:
            special = check_values(values)
        if special is not None:
            if type(special) is ErrorToken:
                send_error(self.ctx, state.spec, frame, special)
            else:
                send_skip(self.ctx, state.spec, frame)
            return
        if kind == "cond":
            self._decide(state, frame, values)
            return
        if kind == "cache_lookup" and not self._blocks[id(state)].ready_lookup(frame, values):
            return
        fire = state.fire
        if fire is None:
            send_plain(self.ctx, state.spec, frame, values)
            return
        # Each firing starts from the runner's context, not the delivering task's.
        context = self._context.copy()
        run = self._site_run
        if run is not None and run.names_frames():  # adapter spans name their frame
            context.run(_telemetry.FRAME.set, frame)
        if state.spec.eager and not _EAGER_TASKS:
            # Eager start (~1 µs instead of a ~10 µs Task) only for bodies whose awaits are
            # all sync adapters running in the executor: nothing in them can need
            # asyncio.current_task(), which is None here. Such a body suspends on its
            # first executor future; SyncFirings finish it without a Task, a few hundred
            # at a time (the other frames wait as tuples).
            self._count_start(state, frame)
            self._sync.fire(fire, state, frame, values, context)
            return
        # Bodies calling async adapters run inside a real Task, always: an adapter may use
        # asyncio.timeout() or anyio from its first line. From Python 3.12 the Task itself
        # starts eagerly; before, AsyncFirings runs them in a shared worker Task until one
        # suspends (that one keeps the Task): no Task for bodies that never wait.
        if _EAGER_TASKS:
            self._start(state, frame, values, context)
        else:
            self._count_start(state, frame)
            self._async.fire(state, frame, values, context)

    def _decide(self, state: TransitionState, frame: Frame, values: list[Any]) -> None:
        cond = state.cond
        assert cond is not None
        try:
            ok = cond(values)
        except Exception as e:
            token = error_token(
                type(e).__name__,
                f"{describe_node('If', state.spec.node_id)}: the condition cannot be "
                f"evaluated: {e}",
                e,
                state.spec.node_id,
                self.ctx.this_site,
                "If",
            )
            send_error(self.ctx, state.spec, frame, token)
            return
        if ok:
            send_plain(self.ctx, state.spec, frame, values)
        else:
            send_skip(self.ctx, state.spec, frame)

    def _count_start(self, state: TransitionState, frame: Frame) -> None:
        state.running += 1
        if state.scoped:
            state.busy_inc(frame.frame[: state.depth])  # type: ignore[arg-type]

    def _count_end(self, state: TransitionState, frame: Frame) -> None:
        state.running -= 1
        if state.scoped:
            state.busy_dec(self, frame.frame[: state.depth])  # type: ignore[arg-type]
        if state.can_finish():
            self.finish(state)

    def _start(
        self, state: TransitionState, frame: Frame, values: list[Any], context: contextvars.Context
    ) -> None:
        self._count_start(state, frame)
        self._create_task(self._firing(state, frame, values, None), context=context)

    async def _firing(
        self,
        state: TransitionState,
        frame: Frame,
        values: list[Any],
        started: tuple[Coroutine[Any, Any, None], Any] | None,
    ) -> None:
        # The bookkeeping runs inside the firing's Task: cheaper than a done callback. The
        # body's coroutine is made here, so a Task cancelled before it ran leaves none
        # behind un-awaited.
        error: BaseException | None = None
        try:
            if started is None:
                await state.fire(frame, values)  # type: ignore[misc]
            else:
                await resume(*started)
        except asyncio.CancelledError as e:
            if self._finished:  # cancel(): nothing more to do or send
                raise
            error = e
        except BaseException as e:
            error = e
        self._body_done(state, frame, error)

    def _sync_fallback(
        self,
        state: TransitionState,
        frame: Frame,
        coro: Coroutine[Any, Any, None],
        yielded: Any,
        context: contextvars.Context,
    ) -> None:
        # A sync-only body that yielded no future (never expected): finish it in a Task.
        self._create_task(self._firing(state, frame, [], (coro, yielded)), context=context)

    def _body_done(self, state: TransitionState, frame: Frame, error: BaseException | None) -> None:
        # After a body, whoever ran it (a Task, SyncFirings, AsyncFirings). An adapter that
        # let a CancelledError out fails its frame, so the job still completes; any other
        # exception escaped the generated body, which catches adapters' errors: a bug.
        if self._finished:
            return
        if isinstance(error, asyncio.CancelledError):
            token = error_token(
                "CancelledError",
                f"Transition {state.spec.name} was cancelled while running frame {frame}",
                None,
                state.spec.node_id,
                self.ctx.this_site,
                self._operation(state),
            )
            send_error(self.ctx, state.spec, frame, token)
        elif error is not None:
            self._internal_failure(error)
            return
        self._count_end(state, frame)

    # -- stop ------------------------------------------------------------------------
    def _close(self, state: TransitionState, i: int) -> None:
        if state.closed[i]:
            self.logger.warning(
                "Place %s of site %s received the stop frame twice",
                state.spec.inputs[i],
                self.ctx.this_site,
            )
            return
        state.closed[i] = True
        state.nclosed += 1
        if state.can_finish():
            self.finish(state)

    def finish(self, state: TransitionState) -> None:
        """Every input of ``state`` stopped and nothing runs: report leftovers, stop."""
        state.finished = True
        for frame, token in state.take_incomplete_frames(self.ctx.this_site):
            send_error(self.ctx, state.spec, frame, token)
        send_stop(self.ctx, state.spec)
        self._nfinished += 1
        if self._nfinished == len(self._states):
            self._end(None)
