"""The thread-local scope that lets statements add themselves to the open block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._statement import Block, Statement


class _Scope:
    __slots__ = ("blocks", "next_id", "pipeline")

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.next_id = 0
        self.blocks: list[Block] = [pipeline]


class _State(threading.local):
    scope: _Scope | None = None
    detached: int = 0


_state = _State()


def open_pipeline(pipeline: Pipeline) -> None:
    """Start building ``pipeline`` on this thread."""
    if _state.scope is not None:
        raise RuntimeError("Can only enter one Pipeline context at a time.")
    _state.scope = _Scope(pipeline)


def close_pipeline(pipeline: Pipeline) -> None:
    """Stop building ``pipeline``; the scope is removed even when checks fail."""
    scope = _state.scope
    _state.scope = None
    if scope is None or scope.pipeline is not pipeline:
        raise RuntimeError("Exited a Pipeline context that is not the open one.")
    if scope.blocks != [pipeline]:
        names = ", ".join(type(b).__name__ for b in scope.blocks[1:])
        raise RuntimeError(f"Pipeline closed while blocks are still open: {names}")


def push_block(block: Block) -> None:
    """Make ``block`` the block new statements go into."""
    if _state.scope is None:
        raise RuntimeError(f"{type(block).__name__} can only be entered inside a Pipeline")
    _state.scope.blocks.append(block)


def pop_block(block: Block) -> None:
    """Close ``block``, which must be the innermost open block."""
    scope = _state.scope
    if scope is None or len(scope.blocks) < 2 or scope.blocks[-1] is not block:
        raise RuntimeError(f"{type(block).__name__} closed out of order")
    scope.blocks.pop()


def next_node_id() -> int:
    """The next auto id of the pipeline being built."""
    scope = _state.scope
    if scope is None:
        raise RuntimeError(
            "Statements get their node id from the pipeline being built: create them inside "
            "`with Pipeline() as p:`, or pass dfm_node_id explicitly"
        )
    n = scope.next_id
    scope.next_id += 1
    return n


def register(statement: Statement) -> None:
    """Append a newly built statement to the innermost open block, if any."""
    scope = _state.scope
    if scope is not None and not _state.detached:
        scope.blocks[-1].dfm_body.append(statement)


@contextmanager
def detached() -> Iterator[None]:
    """Build statements without adding them to the open block (used when loading JSON)."""
    _state.detached += 1
    try:
        yield
    finally:
        _state.detached -= 1
