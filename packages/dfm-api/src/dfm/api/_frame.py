"""Frames: which parameter set (and which loop iteration) a token belongs to."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema

_FRAME_TAG = "@dfm-control-token"
STOP: Literal["stop"] = "stop"


class Frame:
    """The position of a token in a job: parameter set index plus loop levels.

    The i-th input parameter set of a job runs in frame ``[i]``; nested iterations push
    extra levels (``[i, k]``). The special *stop* frame ends a job. Frames are immutable
    and hashable; they compare by value. In JSON a frame is
    ``{"token": "@dfm-control-token", "frame": [0]}`` or ``{"…", "frame": "stop"}``.
    """

    __slots__ = ("_frame", "_hash")

    def __init__(self, frame: tuple[int, ...] | list[int] | Literal["stop"]) -> None:
        """Create a frame from its levels, or from the string ``"stop"``."""
        if frame == STOP:
            value: tuple[int, ...] | Literal["stop"] = STOP
        elif (
            isinstance(frame, (tuple, list))
            and frame
            and all(isinstance(i, int) and not isinstance(i, bool) for i in frame)
        ):
            value = tuple(frame)
        else:
            raise ValueError(f"A frame is a non-empty list of ints or 'stop', not {frame!r}")
        self._frame = value
        self._hash = hash(value)

    @property
    def frame(self) -> tuple[int, ...] | Literal["stop"]:
        """The frame levels, or ``"stop"``."""
        return self._frame

    @classmethod
    def _of(cls, levels: tuple[int, ...]) -> Frame:
        # Hot path (one frame per parameter set and per hop): skip validation of
        # levels built by this class itself.
        frame = object.__new__(cls)
        frame._frame = levels
        frame._hash = hash(levels)
        return frame

    @classmethod
    def start_frame(cls, index: int) -> Frame:
        """The frame of the parameter set with the given index."""
        if type(index) is not int or index < 0:
            raise ValueError(f"A parameter set index is a non-negative int, not {index!r}")
        return cls._of((index,))

    @classmethod
    def stop_frame(cls) -> Frame:
        """The frame that ends a job."""
        return _STOP_FRAME

    def is_stop_frame(self) -> bool:
        """Whether this is the stop frame."""
        return self._frame == STOP

    def _levels(self) -> tuple[int, ...]:
        if self._frame == STOP:
            raise ValueError("The stop frame has no levels")
        return self._frame

    def with_loop_inc(self) -> Frame:
        """The next iteration on the innermost level: ``[2, 5]`` → ``[2, 6]``."""
        levels = self._levels()
        return Frame._of((*levels[:-1], levels[-1] + 1))

    def with_pushed_scope(self) -> Frame:
        """Enter a nested scope: ``[2]`` → ``[2, 0]``."""
        return Frame._of((*self._levels(), 0))

    def child(self, index: int) -> Frame:
        """The frame of element ``index`` of a ForEach in this frame: ``[2]`` → ``[2, index]``.

        ``index`` must be a non-negative int (not checked: this is on the hot path of
        every ForEach element).
        """
        levels = self._frame
        if levels == STOP:
            raise ValueError("The stop frame has no levels")
        frame = object.__new__(Frame)
        frame._frame = levels = (*levels, index)
        frame._hash = hash(levels)
        return frame

    def with_popped_scope(self) -> Frame:
        """Leave the innermost scope: ``[2, 5]`` → ``[2]``."""
        return self.parent()

    def parent(self) -> Frame:
        """The enclosing frame; the frame must have more than one level."""
        levels = self._levels()
        if len(levels) < 2:
            raise ValueError(f"Frame {self} has no parent")
        return Frame._of(levels[:-1])

    def is_ancestor_of(self, other: Frame) -> bool:
        """Whether this frame is a prefix of ``other`` (a frame is its own ancestor)."""
        if self.is_stop_frame() or other.is_stop_frame():
            return False
        mine, theirs = self._levels(), other._levels()
        return theirs[: len(mine)] == mine

    def input_paramset_index(self) -> int:
        """The index of the input parameter set this frame belongs to."""
        return self._levels()[0]

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Frame) and other._frame == self._frame)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return "Frame(stop)" if self._frame == STOP else f"Frame({list(self._frame)})"

    def __str__(self) -> str:
        return STOP if self._frame == STOP else str(list(self._frame))

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this frame."""
        return {"token": _FRAME_TAG, "frame": STOP if self._frame == STOP else list(self._frame)}

    @classmethod
    def from_json(cls, data: Any) -> Frame:
        """Parse the JSON form (or accept a Frame as is)."""
        if isinstance(data, Frame):
            return data
        if (
            isinstance(data, dict)
            and data.get("token", _FRAME_TAG) == _FRAME_TAG
            and "frame" in data
        ):
            raw = data["frame"]
            return _STOP_FRAME if raw == STOP else cls(raw)
        raise ValueError(f"Not a frame: {data!r}")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Let pydantic models hold frames and (de)serialize them as JSON objects."""
        return core_schema.no_info_plain_validator_function(
            cls.from_json,
            serialization=core_schema.plain_serializer_function_ser_schema(cls.to_json),
        )


_STOP_FRAME = Frame(STOP)


class FlowInfo(BaseModel):
    """A control token: "this frame may proceed".

    ``hint`` is None for an ordinary jump, -1 for a loop back edge and n ≥ 0 for
    "expect n forks".
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    hint: int | None = None

    def is_jump_like(self) -> bool:
        """Whether this is an ordinary jump."""
        return self.hint is None

    def is_back_edge(self) -> bool:
        """Whether this is a loop back edge."""
        return self.hint == -1

    def expect_n_forks(self) -> int | None:
        """How many forks to expect, if this token announces forks."""
        return self.hint if self.hint is not None and self.hint >= 0 else None
