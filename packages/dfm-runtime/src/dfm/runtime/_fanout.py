"""The fan-out of a ForEach: iterate the sequence, send the elements as they come.

* Sequences in memory (lists, tuples, dicts, ranges, other iterables that are not
  iterators) are iterated on the loop, in batches, giving the loop a turn between them.
* Sync generators and other iterators may block: a worker thread of the site's sync
  pool advances them a chunk at a time (1, 8, 64, then 512 elements), and the loop sends
  each chunk on before it asks for the next: the first element goes out at once, and
  the generator never runs far ahead of what the sites can take.
* Async generators are iterated on the loop; elements are flushed at the next loop turn
  (or when a batch is full).

Each flush sends one batch per site that uses the elements (see ``_scatter``). After
the last element: ``close(f)`` to every scatter, the collected list to the other users
of a generator, and the outcome (a control token, or the error of a sequence that is
not iterable or that failed) to the collect. A sequential fan-out sends one element and
waits for its ack before it takes the next.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from dfm.api import ErrorToken, Frame, describe_node

from ._context import FLOW, error_token
from ._net import done_value, is_stream
from ._scatter import ElementBatch, encode_batch
from ._transition import TransitionState

if TYPE_CHECKING:
    from ._runner import NetRunner

_BATCH = 512  # elements per batch
_END = object()


def _take(iterator: Any, count: int) -> tuple[list[Any], bool, Exception | None]:
    """Up to ``count`` next elements; whether the iterator ended; what it raised."""
    out: list[Any] = []
    try:
        for _ in range(count):
            out.append(next(iterator))
    except StopIteration:
        return out, True, None
    except Exception as e:  # raised after the elements before it are sent
        return out, True, e
    return out, False, None


class _Sink:
    """The elements of one fan-out frame on their way to the scatters."""

    __slots__ = ("fan_out", "frame", "next", "batch", "collected")

    def __init__(self, fan_out: FanOut, frame: Frame) -> None:
        self.fan_out = fan_out
        self.frame = frame
        self.next = 0
        self.batch: list[Any] = []
        self.collected: list[Any] | None = [] if fan_out.result_sends else None

    def add(self, value: Any) -> None:
        self.batch.append(value)
        if self.collected is not None:
            self.collected.append(value)

    def flush(self) -> None:
        batch = self.batch
        if not batch:
            return
        self.batch = []
        start = self.next
        self.next += len(batch)
        fan_out = self.fan_out
        ctx = fan_out.runner.ctx
        encoded = None
        for s in fan_out.element_sends:
            if s.site == ctx.this_site:
                ctx.send(s.site, s.place, self.frame, ElementBatch(start, batch), node_id=s.node_id)
                continue
            if encoded is None:
                encoded = encode_batch(start, batch, s.node_id, ctx.this_site)
            ctx.send_encoded(s.site, s.place, self.frame, encoded, node_id=s.node_id)


class FanOut:
    """Runs the firings of one fan-out transition."""

    def __init__(self, runner: NetRunner, state: TransitionState) -> None:
        """Sort the transition's sends by what they carry."""
        spec = state.spec
        assert spec.block is not None
        self.runner = runner
        self.spec = spec
        self.block = spec.block
        self.element_sends = [s for s in spec.sends if s.elements]
        self.result_sends = [s for s in spec.sends if s.result]
        self.done_sends = [s for s in spec.sends if s.done]
        self.waiters: dict[tuple[int, ...], asyncio.Future[None]] = {}

    # -- a firing --------------------------------------------------------------------
    async def run(self, frame: Frame, values: Sequence[Any]) -> None:
        """Iterate the sequence of ``frame`` and send everything that follows from it."""
        seq = values[self.block.seq]
        sink = _Sink(self, frame)
        error: ErrorToken | None = None
        try:
            if isinstance(seq, AsyncIterator):
                await self._async(seq, sink)
            elif is_stream(seq):
                await self._threaded(seq, sink)
            else:
                try:
                    iterator = iter(seq)
                except TypeError:
                    error = self._not_iterable(seq)
                else:
                    await self._in_memory(iterator, sink)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            site = self.runner.ctx.this_site
            count = sink.next + len(sink.batch)
            error = error_token(
                type(e).__name__,
                f"{describe_node('ForEach', self.spec.node_id)}: the sequence failed after {count} "
                f"element(s): {e}",
                e,
                self.spec.node_id,
                site,
                "ForEach",
            )
        sink.flush()
        self._finish(frame, sink, error)

    def _not_iterable(self, seq: Any) -> ErrorToken:
        site = self.runner.ctx.this_site
        return error_token(
            "TypeError",
            f"{describe_node('ForEach', self.spec.node_id)}: the sequence is not iterable (a "
            f"{type(seq).__name__}: {seq!r:.60}); pass a list, tuple, generator or other "
            "iterable",
            None,
            self.spec.node_id,
            site,
            "ForEach",
        )

    def _finish(self, frame: Frame, sink: _Sink, error: ErrorToken | None) -> None:
        send = self.runner.ctx.send
        for s in self.element_sends:
            send(s.site, s.place, frame, FLOW, node_id=s.node_id)  # close(frame)
        errors: list[ErrorToken | None] = [error]
        for s in self.result_sends:
            value = error if error is not None else sink.collected
            failed = send(
                s.site,
                s.place,
                frame,
                value,
                is_yield=s.is_yield,
                node_id=s.node_id,
                sel=s.sel,
                issubs=s.issubs,
            )
            errors.append(failed)
        outcome = done_value(errors)
        for s in self.done_sends:
            send(s.site, s.place, frame, outcome, node_id=s.node_id)

    # -- sequences -------------------------------------------------------------------
    async def _in_memory(self, iterator: Any, sink: _Sink) -> None:
        if self.block.sequential:
            for value in iterator:
                await self._one(sink, value)
            return
        count = 0
        for value in iterator:
            sink.add(value)
            count += 1
            if count == _BATCH:
                count = 0
                sink.flush()
                await asyncio.sleep(0)

    async def _async(self, iterator: AsyncIterator[Any], sink: _Sink) -> None:
        if self.block.sequential:
            async for value in iterator:
                await self._one(sink, value)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.Handle | None = None

        def flush() -> None:
            nonlocal handle
            handle = None
            sink.flush()

        try:
            async for value in iterator:
                sink.add(value)
                if len(sink.batch) >= _BATCH:
                    sink.flush()
                elif handle is None:
                    handle = loop.call_soon(flush)
        finally:
            if handle is not None:
                handle.cancel()  # the caller flushes what is left, before closing

    async def _threaded(self, iterator: Any, sink: _Sink) -> None:
        # A worker thread of the site's sync pool advances the generator a chunk at a
        # time; the loop sends each chunk on before asking for the next. Chunks grow from
        # one element (the first result must not wait for a batch) to a full batch.
        loop = asyncio.get_running_loop()
        executor = self.runner.executor
        size = 1
        while True:
            take = 1 if self.block.sequential else size
            call = functools.partial(contextvars.copy_context().run, _take, iterator, take)
            chunk, ended, error = await loop.run_in_executor(executor, call)
            if self.block.sequential:
                for value in chunk:
                    await self._one(sink, value)
            else:
                for value in chunk:
                    sink.add(value)
                sink.flush()
            if error is not None:
                raise error
            if ended:
                return
            size = min(size * 8, _BATCH)

    async def _one(self, sink: _Sink, value: Any) -> None:
        # Sequential: register the waiter first; the ack can come back synchronously.
        levels = sink.frame.child(sink.next).frame
        assert levels != "stop"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.element_sends and self.block.ack >= 0:
            self.waiters[levels] = future
        else:
            future.set_result(None)
        sink.add(value)
        sink.flush()
        try:
            await future
        finally:
            self.waiters.pop(levels, None)

    def acknowledge(self, frame: Frame) -> None:
        """Element ``frame`` is done: the next one may go."""
        levels = frame.frame
        assert levels != "stop"
        future = self.waiters.pop(levels, None)
        if future is not None and not future.done():
            future.set_result(None)
