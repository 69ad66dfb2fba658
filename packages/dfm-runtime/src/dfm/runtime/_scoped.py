"""ScopedState: a transition inside a ForEach body, or one reading values from outside it.

Frames of a transition of depth ``d`` have ``d + 1`` levels. An input of the same depth
is matched by exact frame; an *outer* input (a shallower producer) holds one value per
prefix, which every frame under that prefix uses. A token whose frame is no longer than
its input's depth is ``close(prefix)``: no more tokens under that prefix on that link.

Bookkeeping is per prefix and O(1) per token:

* ``busy[parent]`` counts the firings running (or waiting for an outer value) under each
  innermost scope (``frame[:d]``);
* a scope closed on every same-depth input is forwarded at once if nothing under it is
  busy, else it is *delayed* until its count drops to zero; ``pending[q]`` counts the
  delayed scopes under each enclosing scope ``q``, whose own close waits for them;
* frames with only some of their same-depth inputs are indexed by scope, so the close of
  a scope turns exactly those into IncompleteFrame errors;
* frames waiting for an outer value are indexed by (input, prefix); an outer value is
  released when its scope is forwarded (a tombstone drops one that comes later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfm.api import ErrorToken, Frame

from ._context import error_token
from ._net import TransitionSpec
from ._transition import TransitionState

if TYPE_CHECKING:
    from ._runner import NetRunner

_STOP = Frame.stop_frame()
_MISSING = object()
Levels = tuple[int, ...]


class ScopedState(TransitionState):
    """Per-prefix matching, scope closes and outer values of one transition."""

    __slots__ = (
        "in_depth",
        "same",
        "same_set",
        "nsame",
        "outer",
        "ack",
        "nstop",
        "stops",
        "closes",
        "busy",
        "nbusy",
        "delayed",
        "pending",
        "delayed_outer",
        "partial",
        "waiting",
        "held",
        "missing",
        "released",
        "single",
    )

    def __init__(self, spec: TransitionSpec) -> None:
        """Classify the inputs of ``spec`` by depth."""
        super().__init__(spec)
        self.scoped = True
        d = spec.depth
        self.in_depth = tuple(spec.depth_of(i) for i in range(self.n))
        self.ack = spec.block.ack if spec.block is not None else -1
        self.same = tuple(i for i in range(self.n) if self.in_depth[i] == d and i != self.ack)
        self.same_set = frozenset(self.same)
        self.nsame = len(self.same)
        self.outer = tuple(i for i in range(self.n) if self.in_depth[i] < d)
        self.nstop = self.n - (1 if self.ack >= 0 else 0)
        self.stops = 0
        self.closes: dict[Levels, int] = {}
        self.busy: dict[Levels, int] = {}
        self.nbusy = 0
        self.delayed: set[Levels] = set()
        self.pending: dict[Levels, int] = {}
        self.delayed_outer: set[Levels] = set()
        self.partial: dict[Levels, set[Frame]] = {}
        self.waiting: dict[tuple[int, Levels], list[Frame]] = {}
        self.held: dict[Frame, list[Any]] = {}
        self.missing: dict[Frame, int] = {}
        self.released: set[tuple[int, Levels]] = set()
        # One same-depth input and nothing else: every data token fires at once.
        self.single = self.nsame == 1 and not self.outer and self.ack < 0

    # -- what the incomplete-frame report asks ------------------------------------------
    def holds(self, index: int, frame: Frame) -> bool:
        """Whether input ``index`` holds a value that ``frame`` can use."""
        if self.in_depth[index] < self.depth:
            levels = frame.frame
            assert levels != "stop"
            return levels[: self.in_depth[index] + 1] in self.places[index]
        return frame in self.places[index] or (
            frame in self.held and self.held[frame][index] is not _MISSING
        )

    def same_depth(self, index: int) -> bool:
        """Whether input ``index`` is matched by exact frame."""
        return index in self.same_set

    # -- delivery --------------------------------------------------------------------
    def deliver(self, runner: NetRunner, i: int, frame: Frame, value: Any) -> None:
        """A token arrives on input ``i``."""
        if frame is _STOP:
            self._stop_input(runner, i)
            return
        levels = frame.frame
        assert levels != "stop"
        n = len(levels)
        if self.single and n == self.depth + 1 and not self.finished:
            runner.ready(self, frame, [value])
            return
        di = self.in_depth[i]
        if i == self.ack:
            if n == di + 1:
                runner.fan_out_ack(self, frame)
            return  # acks take no part in closes
        if n <= di:
            if i in self.same_set:
                self._close(runner, levels)
            return  # closes of outer inputs: their values are released by our own scopes
        if n != di + 1:
            runner.logger.error(
                "Place %s of site %s (depth %d) received a token for frame %s; dropped",
                self.spec.inputs[i],
                runner.ctx.this_site,
                di,
                frame,
            )
            return
        if self.finished:
            runner.late_token(self, i, frame)
            return
        if di < self.depth:
            self._outer_value(runner, i, levels, value)
            return
        slot = self.places[i]
        if frame in slot or (frame in self.held and self.held[frame][i] is not _MISSING):
            runner.duplicate(self, i, frame)
            return
        if self.nsame == 1:
            self._matched(runner, frame, levels, i, value)
            return
        count = self.counts.get(frame, 0) + 1
        if count == 1:
            self.partial.setdefault(levels[: self.depth], set()).add(frame)
        if count < self.nsame:
            slot[frame] = value
            self.counts[frame] = count
            return
        del self.counts[frame]
        part = self.partial.get(levels[: self.depth])
        if part is not None:
            part.discard(frame)
        self._matched(runner, frame, levels, i, value)

    def _matched(
        self, runner: NetRunner, frame: Frame, levels: Levels, last: int, value: Any
    ) -> None:
        values: list[Any] = [_MISSING] * self.n
        for j in self.same:
            values[j] = value if j == last else self.places[j].pop(frame)
        if self.ack >= 0:
            values[self.ack] = None
        missing = 0
        for o in self.outer:
            key = levels[: self.in_depth[o] + 1]
            v = self.places[o].get(key, _MISSING)
            if v is _MISSING:
                self.waiting.setdefault((o, key), []).append(frame)
                missing += 1
            else:
                values[o] = v
        if missing:
            self.held[frame] = values
            self.missing[frame] = missing
            self.busy_inc(levels[: self.depth])
            return
        runner.ready(self, frame, values)

    def _outer_value(self, runner: NetRunner, i: int, key: Levels, value: Any) -> None:
        if (i, key) in self.released:
            self.released.discard((i, key))  # its scope is done: nobody needs it
            return
        slot = self.places[i]
        if key in slot:
            runner.duplicate(self, i, Frame(key))
            return
        slot[key] = value
        frames = self.waiting.pop((i, key), None)
        if not frames:
            return
        for frame in frames:
            values = self.held[frame]
            values[i] = value
            left = self.missing[frame] - 1
            if left:
                self.missing[frame] = left
                continue
            del self.missing[frame]
            del self.held[frame]
            levels = frame.frame
            assert levels != "stop"
            runner.ready(self, frame, values)
            self.busy_dec(runner, levels[: self.depth])  # it no longer waits

    # -- busy counts and closes -------------------------------------------------------
    def busy_inc(self, parent: Levels) -> None:
        """A firing starts (or a frame starts waiting) under ``parent``."""
        self.busy[parent] = self.busy.get(parent, 0) + 1
        self.nbusy += 1

    def busy_dec(self, runner: NetRunner, parent: Levels) -> None:
        """A firing under ``parent`` ended; forward what its end unblocks."""
        left = self.busy[parent] - 1
        self.nbusy -= 1
        if left:
            self.busy[parent] = left
        else:
            del self.busy[parent]
            if parent in self.delayed:
                self._forward_delayed(runner, parent)

    def can_finish(self) -> bool:
        """Every input got the stop frame and no firing runs.

        Frames still waiting for an outer value then never get it: they are reported
        as incomplete when the transition finishes.
        """
        return self.stops == self.nstop and self.running == 0 and not self.finished

    def _close(self, runner: NetRunner, levels: Levels) -> None:
        count = self.closes.get(levels, 0) + 1
        if count < self.nsame:
            self.closes[levels] = count
            return
        self.closes.pop(levels, None)
        if len(levels) == self.depth:
            part = self.partial.pop(levels, None)
            if part:
                for frame in part:
                    del self.counts[frame]
                runner.incomplete(self, sorted(part, key=lambda f: f.frame))
            if self.busy.get(levels):
                self.delayed.add(levels)
                for length in range(1, self.depth):
                    q = levels[:length]
                    self.pending[q] = self.pending.get(q, 0) + 1
            else:
                self._forward(runner, levels)
        elif self.pending.get(levels):
            self.delayed_outer.add(levels)
        else:
            self._forward(runner, levels)

    def _forward(self, runner: NetRunner, levels: Levels) -> None:
        runner.forward_close(self, Frame(levels))
        for o in self.outer:
            if self.in_depth[o] + 1 == len(levels):
                if self.places[o].pop(levels, _MISSING) is _MISSING:
                    self.released.add((o, levels))

    def _forward_delayed(self, runner: NetRunner, parent: Levels) -> None:
        self.delayed.discard(parent)
        self._forward(runner, parent)
        for length in range(self.depth - 1, 0, -1):
            q = parent[:length]
            left = self.pending[q] - 1
            if left:
                self.pending[q] = left
                continue
            del self.pending[q]
            if q in self.delayed_outer:
                self.delayed_outer.discard(q)
                self._forward(runner, q)

    def _stop_input(self, runner: NetRunner, i: int) -> None:
        if i == self.ack:
            return
        if self.closed[i]:
            runner.logger.warning(
                "Place %s of site %s received the stop frame twice",
                self.spec.inputs[i],
                runner.ctx.this_site,
            )
            return
        self.closed[i] = True
        self.stops += 1
        if self.can_finish():
            runner.finish(self)

    def take_incomplete_frames(self, site: str) -> Any:
        """Every frame still holding inputs at the end, with its error."""
        from ._transition import incomplete

        frames = list(self.counts)
        self.counts.clear()
        self.partial.clear()
        yield from incomplete(self, frames, site)
        for frame, values in list(self.held.items()):
            errors = [v for v in values if type(v) is ErrorToken]
            inputs = [repr(self.spec.inputs[o]) for o in self.outer if values[o] is _MISSING]
            token = error_token(
                "IncompleteFrame",
                f"Frame {frame} of transition {self.spec.name} on site {site!r} never "
                f"received input {', '.join(inputs)} before the stop frame",
                None,
                self.spec.node_id,
                site,
            )
            yield frame, ErrorToken.merge([*errors, token])
        self.held.clear()
        self.missing.clear()
        self.waiting.clear()
