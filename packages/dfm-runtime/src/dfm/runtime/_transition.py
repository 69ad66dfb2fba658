"""The run-time state of one transition, and the sends the runner makes for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame

from ._context import FLOW, STOP_TOKEN, DfmContext, error_token
from ._net import FireMethod, TransitionSpec, done_value

_STOP = Frame.stop_frame()


class TransitionState:
    """Places and counters of one transition of a running net.

    ``places[i]`` maps a frame to the value input ``i`` holds for it; ``counts`` holds
    the frames that have some but not all inputs, with how many they have.
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
    )

    def __init__(self, spec: TransitionSpec) -> None:
        """Empty places for ``spec``; ``fire`` is bound when the runner starts."""
        self.spec = spec
        self.n = len(spec.inputs)
        self.places: list[dict[Frame, Any]] = [{} for _ in spec.inputs]
        self.counts: dict[Frame, int] = {}
        self.closed = [False] * self.n
        self.nclosed = 0
        self.running = 0
        self.finished = False
        self.fire: FireMethod | None = None

    def take_incomplete_frames(self, site: str) -> Iterator[tuple[Frame, ErrorToken]]:
        """Empty the places of frames that can no longer fire, each with its error."""
        spec = self.spec
        for frame in list(self.counts):
            missing = [
                p for p, slot in zip(spec.inputs, self.places, strict=True) if frame not in slot
            ]
            held = [slot.pop(frame) for slot in self.places if frame in slot]
            token = error_token(
                "IncompleteFrame",
                f"Frame {frame} of transition {spec.name} on site {site!r} never received "
                f"input {', '.join(repr(p) for p in missing)} before the stop frame",
                None,
                spec.node_id,
                site,
            )
            errors = [v for v in held if type(v) is ErrorToken]
            yield frame, ErrorToken.merge([*errors, token])
        self.counts.clear()


def send_error(ctx: DfmContext, spec: TransitionSpec, frame: Frame, token: ErrorToken) -> None:
    """An error to every target of the transition, yields included."""
    send = ctx.send
    for s in spec.sends:
        send(s.site, s.place, frame, token, is_yield=s.is_yield, node_id=s.node_id)


def send_plain(ctx: DfmContext, spec: TransitionSpec, frame: Frame, values: Sequence[Any]) -> None:
    """The sends of a transition without a body: constants and forwarded inputs."""
    send = ctx.send
    errors: list[ErrorToken | None] = []
    for s in spec.sends:
        value = values[s.index] if s.index >= 0 else s.value
        if s.done:
            value = done_value(errors)
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


def send_stop(ctx: DfmContext, spec: TransitionSpec) -> None:
    """The stop frame to every non-yield target; a StopToken to the status place."""
    send = ctx.send
    for s in spec.sends:
        if not s.is_yield:
            send(s.site, s.place, _STOP, FLOW, node_id=s.node_id)
        elif s.place == STATUS_PLACE_NAME:
            send(s.site, s.place, _STOP, STOP_TOKEN, is_yield=True, node_id=s.node_id)
