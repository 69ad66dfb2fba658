"""The scatter of a ForEach: element batches in, one frame per element out.

A fan-out sends each site that uses its elements batches at its own frame ``f``: an
:class:`ElementBatch` by reference on its own site, and ``[start, [[tag, body], …]]``
(each element in its own tagged form) to other sites. The scatter delivers element
``k`` of frame ``f`` to its targets at ``f + [k]``. Anything else at ``f`` (the control
token, an error, a skip) ends the fan-out's frame: the scatter forwards ``close(f)``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from dfm.api import ErrorToken, Frame, decode_value, describe_node, encode_value

from ._context import error_token
from ._net import TransitionSpec
from ._transition import TransitionState, send_error, send_plain

if TYPE_CHECKING:
    from ._runner import NetRunner

_STOP = Frame.stop_frame()
_PER_TURN = 256  # elements a scatter delivers per turn of the event loop


class ElementBatch:
    """Consecutive elements of one fan-out frame, starting at index ``start``."""

    __slots__ = ("start", "values")

    def __init__(self, start: int, values: list[Any]) -> None:
        """Elements ``start``, ``start + 1``, … of a fan-out frame."""
        self.start = start
        self.values = values


def encode_batch(start: int, values: list[Any], node_id: int | str | None, site: str) -> Any:
    """The wire form of a batch; an element that cannot be encoded becomes an ErrorToken."""
    out = []
    for value in values:
        try:
            tag, body = encode_value(value)
        except Exception as e:
            token = error_token(
                "SerializationError",
                f"Element of {describe_node('ForEach', node_id)} cannot be sent to another "
                f"site: {e}",
                e,
                node_id,
                site,
                "ForEach",
            )
            tag, body = encode_value(token)
        out.append([tag, body])
    return ("json", [start, out])


class ScatterState(TransitionState):
    """Delivers a fan-out's elements to the places of this site."""

    __slots__ = ("in_depth", "direct", "backlog", "resuming")

    def __init__(self, spec: TransitionSpec) -> None:
        """One input, one level above the transition."""
        super().__init__(spec)
        self.scoped = True
        self.in_depth = spec.depth_of(0)
        # The common case: every target is a place of this site taking the whole element;
        # elements then go straight to the runner's delivery queue.
        self.direct: tuple[str, ...] | None = None
        site = spec.sends[0].site if spec.sends else None
        if spec.sends and all(
            s.result and s.sel is None and not s.is_yield and s.site == site for s in spec.sends
        ):
            self.direct = tuple(s.place for s in spec.sends)
        # Elements (frame, next index, values, policy) and closes not delivered yet.
        self.backlog: deque[tuple[Frame, int, list[Any] | None, Any]] = deque()
        self.resuming = False

    def deliver(self, runner: NetRunner, i: int, frame: Frame, value: Any) -> None:
        """A batch, the end of a fan-out frame, or a close from further up."""
        if frame is _STOP:
            if not self.closed[0]:
                self.closed[0] = True
                self.nclosed = 1
                self._later(runner, frame, 0, None, None)
            return
        levels = frame.frame
        assert levels != "stop"
        if len(levels) <= self.in_depth:
            self._later(runner, frame, 0, None, None)
            return
        if len(levels) != self.in_depth + 1:
            runner.logger.error(
                "Scatter %s of site %s received a token for frame %s; dropped",
                self.spec.name,
                runner.ctx.this_site,
                frame,
            )
            return
        kind = type(value)
        if kind is ElementBatch:
            self._later(runner, frame, value.start, value.values, None)
        elif kind is list:
            self._from_wire(runner, frame, value)
        else:  # the end of the fan-out's frame
            self._later(runner, frame, 0, None, None)

    def _later(
        self, runner: NetRunner, frame: Frame, start: int, values: list[Any] | None, policy: Any
    ) -> None:
        # Queue behind what is still to deliver; deliver now if nothing is.
        self.backlog.append((frame, start, values, policy))
        if not self.resuming:
            self._work(runner)

    def _work(self, runner: NetRunner) -> None:
        self.resuming = False
        if self.finished or runner.finished_running:
            self.backlog.clear()
            return
        budget = _PER_TURN
        backlog = self.backlog
        while backlog:
            frame, start, values, policy = backlog[0]
            if values is None:  # a close, or the stop frame
                backlog.popleft()
                if frame is _STOP:
                    runner.finish(self)
                else:
                    runner.forward_close(self, frame)
                continue
            if budget <= 0:
                self.resuming = True
                runner.call_soon(self._work, runner)
                return
            now, rest = values[:budget], values[budget:]
            budget -= len(now)
            if rest:
                backlog[0] = (frame, start + len(now), rest, policy)
            else:
                backlog.popleft()
            self._elements(runner, frame, start, now, policy)

    def _from_wire(self, runner: NetRunner, frame: Frame, value: list[Any]) -> None:
        ok = (
            len(value) == 2
            and type(value[0]) is int
            and value[0] >= 0
            and type(value[1]) is list
            and all(
                type(item) is list and len(item) == 2 and type(item[0]) is str for item in value[1]
            )
        )
        if not ok:
            runner.logger.error(
                "Scatter %s of site %s received a malformed element batch for frame %s; dropped",
                self.spec.name,
                runner.ctx.this_site,
                frame,
            )
            return
        self._later(runner, frame, value[0], value[1], runner.ctx.decode_policy)

    def _elements(
        self, runner: NetRunner, frame: Frame, start: int, values: list[Any], policy: Any
    ) -> None:
        ctx, spec = runner.ctx, self.spec
        direct = self.direct if ctx.this_site == spec.sends[0].site else None
        deliver = runner.deliver_local
        child = frame.child
        for k, item in enumerate(values, start):
            element = child(k)
            if policy is not None:
                tag, item = item
                if tag != "json":
                    item = self._decode(ctx, frame, k, tag, item, policy)
            if type(item) is ErrorToken:
                send_error(ctx, spec, element, item)
            elif direct is not None:
                for place in direct:
                    deliver(place, element, item)
            else:
                send_plain(ctx, spec, element, (), item)

    def _decode(self, ctx: Any, frame: Frame, k: int, tag: str, body: Any, policy: Any) -> Any:
        try:
            return decode_value((tag, body), policy)
        except Exception as e:
            return error_token(
                "SerializationError",
                f"Site {ctx.this_site!r} cannot decode element {k} of "
                f"{describe_node('ForEach', self.spec.node_id)} for frame {frame}: {e}",
                e,
                self.spec.node_id,
                ctx.this_site,
                "ForEach",
            )
