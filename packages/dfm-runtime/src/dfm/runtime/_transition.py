"""The run-time state of one transition, and the sends the runner makes for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame, SkipToken

from ._context import FLOW, SKIP, STOP_TOKEN, DfmContext, error_token
from ._net import FireMethod, TransitionSpec, done_value

if TYPE_CHECKING:
    from ._runner import NetRunner

_STOP = Frame.stop_frame()


class TransitionState:
    """Places and counters of one transition of a running net.

    ``places[i]`` maps a frame to the value input ``i`` holds for it; ``counts`` holds
    the frames that have some but not all inputs, with how many they have. This class
    serves transitions of depth 0 whose inputs are all of depth 0 (the straight-line
    case, on the hot path); :class:`dfm.runtime._scoped.ScopedState` the others.
    """

    __slots__ = (
        "spec",
        "n",
        "places",
        "counts",
        "closed",
        "nclosed",
        "running",
        "finished",
        "fire",
        "cond",
        "kind",
        "scoped",
        "depth",
    )

    def __init__(self, spec: TransitionSpec) -> None:
        """Empty places for ``spec``; ``fire`` is bound when the runner starts."""
        self.spec = spec
        self.n = len(spec.inputs)
        self.places: list[dict[Any, Any]] = [{} for _ in spec.inputs]
        self.counts: dict[Frame, int] = {}
        self.closed = [False] * self.n
        self.nclosed = 0
        self.running = 0
        self.finished = False
        self.fire: FireMethod | None = None
        self.cond: Callable[[Sequence[Any]], bool] | None = None
        self.kind = spec.block.kind if spec.block is not None else "op"
        self.scoped = False  # True: deliver() does the matching (see _scoped)
        self.depth = spec.depth

    def deliver(self, runner: NetRunner, i: int, frame: Frame, value: Any) -> None:
        """Match a token on input ``i`` (scoped states; the runner inlines the rest)."""
        raise NotImplementedError

    def busy_inc(self, parent: tuple[int, ...]) -> None:
        """A firing starts under scope ``parent`` (only scoped states count)."""

    def busy_dec(self, runner: NetRunner, parent: tuple[int, ...]) -> None:
        """A firing under scope ``parent`` ended (only scoped states count)."""

    def can_finish(self) -> bool:
        """Every input got the stop frame and no firing runs."""
        return self.nclosed == self.n and self.running == 0 and not self.finished

    def holds(self, index: int, frame: Frame) -> bool:
        """Whether input ``index`` holds a value that frame ``frame`` can use."""
        return frame in self.places[index]

    def same_depth(self, index: int) -> bool:
        """Whether input ``index`` is matched by exact frame (not an outer value)."""
        return True

    def take_incomplete_frames(self, site: str) -> Iterator[tuple[Frame, ErrorToken]]:
        """Empty the places of frames that can no longer fire, each with its error."""
        yield from incomplete(self, list(self.counts), site)
        self.counts.clear()


def incomplete(
    state: TransitionState, frames: Iterable[Frame], site: str
) -> Iterator[tuple[Frame, ErrorToken]]:
    """Take what ``frames`` hold from the places of ``state``, each with its error."""
    spec = state.spec
    for frame in frames:
        missing = [p for i, p in enumerate(spec.inputs) if not state.holds(i, frame)]
        held = [
            slot.pop(frame)
            for i, slot in enumerate(state.places)
            if state.same_depth(i) and frame in slot
        ]
        token = error_token(
            "IncompleteFrame",
            f"Frame {frame} of transition {spec.name} on site {site!r} never received "
            f"input {', '.join(repr(p) for p in missing)} before its scope closed",
            None,
            spec.node_id,
            site,
        )
        errors = [v for v in held if type(v) is ErrorToken]
        yield frame, ErrorToken.merge([*errors, token])


def check_values(values: Sequence[Any]) -> Any:
    """None if every value is plain data; else the skip, or the merged error (errors win)."""
    if len(values) == 1:
        t = type(values[0])
        if t is ErrorToken or t is SkipToken:
            return values[0]
        return None
    errors = None
    skip = None
    for v in values:
        t = type(v)
        if t is ErrorToken:
            errors = [v] if errors is None else [*errors, v]
        elif t is SkipToken:
            skip = v
    if errors is not None:
        return ErrorToken.merge(errors)
    return skip


def send_error(ctx: DfmContext, spec: TransitionSpec, frame: Frame, token: ErrorToken) -> None:
    """An error to every target of the transition, yields included (acks excepted)."""
    send = ctx.send
    for s in spec.sends:
        if not s.ack:
            send(s.site, s.place, frame, token, is_yield=s.is_yield, node_id=s.node_id)


def send_skip(ctx: DfmContext, spec: TransitionSpec, frame: Frame) -> None:
    """The frame does not run here: a skip to every non-yield target.

    Yields send nothing; the status transition sends the frame's ``StopToken``.
    """
    send = ctx.send
    for s in spec.sends:
        if s.ack or s.quiet:
            continue
        if s.is_yield:
            if s.value is STOP_TOKEN:
                send(s.site, s.place, frame, STOP_TOKEN, is_yield=True, node_id=s.node_id)
            continue
        send(s.site, s.place, frame, SKIP, node_id=s.node_id)


def send_plain(
    ctx: DfmContext,
    spec: TransitionSpec,
    frame: Frame,
    values: Sequence[Any],
    result: Any = None,
) -> None:
    """The sends of a transition without a body: constants, forwarded inputs, ``result``.

    ``result`` is the value a block transition computed (``ResultValue`` sends).
    Element and ack sends are the block's own business and are left out.
    """
    send = ctx.send
    errors: list[ErrorToken | None] = []
    for s in spec.sends:
        if s.elements or s.ack:
            continue
        if s.index >= 0:
            value = values[s.index]
        elif s.result:
            value = result
        else:
            value = s.value
        if s.done:
            value = done_value(errors)
            if s.quiet and value is FLOW:
                continue
        errors.append(
            send(
                s.site,
                s.place,
                frame,
                value,
                is_yield=s.is_yield,
                node_id=s.node_id,
                sel=s.sel,
                issubs=s.issubs,
            )
        )


def send_close(ctx: DfmContext, spec: TransitionSpec, prefix: Frame) -> None:
    """``close(prefix)`` to every non-yield target (acks excepted)."""
    send = ctx.send
    for s in spec.sends:
        if not (s.is_yield or s.ack):
            send(s.site, s.place, prefix, FLOW, node_id=s.node_id)


def send_stop(ctx: DfmContext, spec: TransitionSpec) -> None:
    """The stop frame to every non-yield target; a StopToken to the status place."""
    send = ctx.send
    for s in spec.sends:
        if s.ack:
            continue
        if not s.is_yield:
            send(s.site, s.place, _STOP, FLOW, node_id=s.node_id)
        elif s.place == STATUS_PLACE_NAME:
            send(s.site, s.place, _STOP, STOP_TOKEN, is_yield=True, node_id=s.node_id)
