"""The collect of a ForEach: "all children of frame f are done".

Inputs at the transition's depth ``d`` carry the fan-out's outcome for ``f``; inputs at
``d + 1`` carry the reports of the body's transitions for each element ``f + [k]``,
then ``close(f)``. Per parent frame the collect keeps a count of closed report inputs
and the errors reported, nothing per element (except, for a sequential ForEach, the
element's reports until all are in, to acknowledge it). It fires for ``f`` once the
outcome is there and every report input closed ``f``: the merged errors, a skip (the
ForEach did not run), or a control token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfm.api import ErrorToken, Frame, SkipToken, describe_node

from ._context import FLOW, SKIP, error_token
from ._net import TransitionSpec
from ._transition import TransitionState

if TYPE_CHECKING:
    from ._runner import NetRunner

_STOP = Frame.stop_frame()
Levels = tuple[int, ...]


class CollectState(TransitionState):
    """Counts closes and gathers errors of a ForEach's elements, per parent frame."""

    __slots__ = (
        "outcome",
        "child",
        "nout",
        "nchild",
        "acking",
        "outcomes",
        "child_closed",
        "errors",
        "acks",
        "closes",
        "opened",
    )

    def __init__(self, spec: TransitionSpec) -> None:
        """Sort the inputs into outcomes and reports."""
        super().__init__(spec)
        self.scoped = True
        d = self.depth
        self.outcome = frozenset(i for i in range(self.n) if spec.depth_of(i) == d)
        self.child = frozenset(i for i in range(self.n) if spec.depth_of(i) == d + 1)
        self.nout = len(self.outcome)
        self.nchild = len(self.child)
        self.acking = any(s.ack for s in spec.sends)
        self.outcomes: dict[Levels, list[Any]] = {}
        self.child_closed: dict[Levels, int] = {}
        self.errors: dict[Levels, list[ErrorToken]] = {}
        self.acks: dict[Levels, int] = {}
        self.closes: dict[Levels, int] = {}
        self.opened: dict[Levels, set[Levels]] = {}

    def deliver(self, runner: NetRunner, i: int, frame: Frame, value: Any) -> None:
        """An outcome, a report, or a close."""
        if frame is _STOP:
            self._stop(runner, i)
            return
        levels = frame.frame
        assert levels != "stop"
        n, d = len(levels), self.depth
        if i in self.child:
            if n == d + 2:
                self._report(runner, frame, levels, value)
            elif n == d + 1:
                self._open(levels)
                self.child_closed[levels] = self.child_closed.get(levels, 0) + 1
                self._check(runner, levels)
            elif n <= d:
                self._close(runner, levels)
            else:
                self._unexpected(runner, i, frame)
            return
        if n == d + 1:
            self._open(levels)
            self.outcomes.setdefault(levels, []).append(value)
            self._check(runner, levels)
        elif n <= d:
            self._close(runner, levels)
        else:
            self._unexpected(runner, i, frame)

    def _unexpected(self, runner: NetRunner, i: int, frame: Frame) -> None:
        runner.logger.error(
            "Collect %s of site %s received a token for frame %s on %s; dropped",
            self.spec.name,
            runner.ctx.this_site,
            frame,
            self.spec.inputs[i],
        )

    def _open(self, levels: Levels) -> None:
        if levels not in self.outcomes and levels not in self.child_closed and self.depth:
            self.opened.setdefault(levels[: self.depth], set()).add(levels)

    def _report(self, runner: NetRunner, frame: Frame, levels: Levels, value: Any) -> None:
        if type(value) is ErrorToken:
            self.errors.setdefault(levels[:-1], []).append(value)
        if self.acking:
            count = self.acks.get(levels, 0) + 1
            if count < self.nchild:
                self.acks[levels] = count
                return
            self.acks.pop(levels, None)
            send = runner.ctx.send
            for s in self.spec.sends:
                if s.ack:
                    send(s.site, s.place, frame, FLOW, node_id=s.node_id)

    def _check(self, runner: NetRunner, levels: Levels) -> None:
        outcome = self.outcomes.get(levels)
        if outcome is None or len(outcome) < self.nout:
            return
        if self.child_closed.get(levels, 0) < self.nchild:
            return
        self._fire(runner, levels, None)

    def _fire(self, runner: NetRunner, levels: Levels, problem: ErrorToken | None) -> None:
        outcome = self.outcomes.pop(levels, [])
        self.child_closed.pop(levels, None)
        errors = self.errors.pop(levels, [])
        if self.depth:
            opened = self.opened.get(levels[: self.depth])
            if opened is not None:
                opened.discard(levels)
        errors += [v for v in outcome if type(v) is ErrorToken]
        if problem is not None:
            errors.append(problem)
        if errors:
            result: Any = ErrorToken.merge(errors)
        elif any(type(v) is SkipToken for v in outcome):
            result = SKIP
        else:
            result = FLOW
        frame = Frame(levels)
        send = runner.ctx.send
        for s in self.spec.sends:
            if s.ack or (s.quiet and type(result) is not ErrorToken):
                continue
            send(s.site, s.place, frame, result, is_yield=s.is_yield, node_id=s.node_id)

    def _incomplete(self, levels: Levels, site: str) -> ErrorToken:
        return error_token(
            "IncompleteFrame",
            f"{describe_node('ForEach', self.spec.node_id)} frame {list(levels)} on site {site!r}: "
            "the reports of its elements did not all arrive before its scope closed",
            None,
            self.spec.node_id,
            site,
            "ForEach",
        )

    def _close(self, runner: NetRunner, levels: Levels) -> None:
        count = self.closes.get(levels, 0) + 1
        if count < self.n:
            self.closes[levels] = count
            return
        self.closes.pop(levels, None)
        if len(levels) == self.depth:
            for open_levels in sorted(self.opened.pop(levels, ())):
                self._fire(runner, open_levels, self._incomplete(open_levels, runner.ctx.this_site))
        runner.forward_close(self, Frame(levels))

    def _stop(self, runner: NetRunner, i: int) -> None:
        if self.closed[i]:
            return
        self.closed[i] = True
        self.nclosed += 1
        if self.nclosed < self.n:
            return
        site = runner.ctx.this_site
        for levels in sorted({*self.outcomes, *self.child_closed, *self.errors}):
            self._fire(runner, levels, self._incomplete(levels, site))
        runner.finish(self)
