"""The input side of a NetRunner: tokens in, one FIFO queue, matching, firing.

Deliveries go through one FIFO queue drained in a loop, never by recursion: a send to a
place of this site made while a delivery is being processed is queued behind it. That
keeps the stack flat however long a chain of transitions is, and keeps per-place order
(data before the stop frame that follows it). Straight-line transitions (depth 0,
depth-0 inputs) are matched inline in :meth:`Deliveries._deliver_now`; the others have a
state object of their own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from dfm.api import START_PLACE_NAME, Frame, SerializationError

from . import _telemetry
from ._context import FLOW, error_token
from ._firing import Firings
from ._package import TokenPackage
from ._transition import TransitionState

if TYPE_CHECKING:
    from ._runner import NetRunner

_STOP = Frame.stop_frame()


class Deliveries(Firings):
    """Delivering tokens to a runner's places (the base of NetRunner)."""

    _queue: deque[tuple[str, Frame, Any]]
    _draining: bool
    _place_index: dict[str, tuple[TransitionState, int]]
    _external: dict[str, tuple[str, ...]]

    def _require_loop(self) -> Any:
        raise NotImplementedError

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` at the next turn of the runner's loop, as one delivery.

        The tokens ``fn`` delivers to this site are queued and processed after it, as
        those of any delivery are.
        """
        self._require_loop().call_soon(self._drain_call, fn, args)

    def _drain_call(self, fn: Any, args: tuple[Any, ...]) -> None:
        if not self._finished:
            self._drain_after(fn, args)

    def inject(self, frame: Frame, inputs: Mapping[str, Any]) -> None:
        """Feed the application's inputs for one frame (external name → value).

        A non-stop frame also gets the start signal (``__start_place__``, whose value is
        always ``FlowInfo()``) if the net has one. The stop frame closes every external
        place. Names this site does not consume are ignored.
        """
        external = self._external
        deliver = self._deliver
        if frame.is_stop_frame():
            for places in external.values():
                for place in places:
                    deliver(place, _STOP, None)
            return
        for name, value in inputs.items():
            if name == START_PLACE_NAME:
                continue
            for place in external.get(name, ()):
                deliver(place, frame, value)
        for place in external.get(START_PLACE_NAME, ()):
            deliver(place, frame, FLOW)

    def deliver_package(self, package: TokenPackage) -> None:
        """Deliver a package from another site (decoded with the context's policy).

        A payload that cannot be decoded here is delivered as an ErrorToken.
        """
        if _telemetry.ENABLED:
            _telemetry.on_receive(self.ctx.this_site, package)
        if package.is_yield:
            self.logger.error(
                "Site %s received a yield package for place %s; yields go to the application",
                self.ctx.this_site,
                package.target_place,
            )
            return
        tag, body = package.payload
        if tag == "json":
            value = body
        else:
            try:
                value = package.unwrap(self.ctx.decode_policy)
            except Exception as e:
                what = "a refused" if isinstance(e, SerializationError) else "an undecodable"
                value = error_token(
                    "SerializationError",
                    f"Site {self.ctx.this_site!r} received {what} value from site "
                    f"{package.source_site!r} (node {package.source_node}) for place "
                    f"{package.target_place!r}: {e}",
                    e,
                    package.source_node,
                    self.ctx.this_site,
                )
        self.deliver(package.target_place, package.frame, value)  # normalizes the frame

    def deliver(self, place: str, frame: Frame, value: Any) -> None:
        """Put a value (or, with the stop frame, the end of input) into a place.

        Tokens for a finished (or cancelled) runner are dropped.
        """
        if frame is not _STOP and frame.is_stop_frame():
            frame = _STOP
        self._deliver(place, frame, value)

    def deliver_local(self, place: str, frame: Frame, value: Any) -> None:
        """Queue a token for a place of this site (frames normalized; runtime use)."""
        if self._draining:
            if not self._finished:
                self._queue.append((place, frame, value))
            return
        self._drain(place, frame, value)

    # Frames inside the runtime are normalized: the stop frame is always _STOP.
    _deliver = deliver_local

    def _drain(self, *first: Any) -> None:
        # ``first``: a delivery to make before the queue (none: just the queue).
        if first:
            self._drain_after(self._deliver_now, first)
        else:
            self._drain_after(None, ())

    def _drain_after(self, fn: Any, args: tuple[Any, ...]) -> None:
        """Run ``fn(*args)`` (if any), then every delivery queued, as one delivery."""
        self._draining = True
        queue = self._queue
        step = self._deliver_now
        try:
            if fn is not None:
                fn(*args)
            while queue:
                place, frame, value = queue.popleft()
                step(place, frame, value)
        except BaseException as e:  # never the site's end: this job's only
            self._internal_failure(e)
        finally:
            if self._finished:
                queue.clear()
            else:
                self._draining = False

    def _deliver_now(self, place: str, frame: Frame, value: Any) -> None:
        entry = self._place_index.get(place)
        if entry is None:
            self.logger.error(
                "Site %s has no place %r; dropped a token of frame %s",
                self.ctx.this_site,
                place,
                frame,
            )
            return
        state, i = entry
        if state.scoped:
            state.deliver(cast("NetRunner", self), i, frame, value)
            return
        if frame is _STOP:
            self._close(state, i)
            return
        if state.finished:
            self.late_token(state, i, frame)
            return
        slot = state.places[i]
        if frame in slot:
            self.duplicate(state, i, frame)
            return
        if state.closed[i]:
            self.logger.warning(
                "Place %s of site %s received frame %s after the stop frame",
                place,
                self.ctx.this_site,
                frame,
            )
        n = state.n
        if n == 1:
            self.ready(state, frame, [value])
            return
        slot[frame] = value
        count = state.counts.get(frame, 0) + 1
        if count < n:
            state.counts[frame] = count
            return
        del state.counts[frame]
        self.ready(state, frame, [p.pop(frame) for p in state.places])
