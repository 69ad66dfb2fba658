"""Visitor over pipeline statements."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._control import ForEach, If, TryFromCache, WriteToCache
    from ._operation import Operation
    from ._pipeline import Pipeline
    from ._yield import Yield


class ApiVisitor:
    """Base visitor: every method does nothing; override what you need."""

    def visit_pipeline(self, pipeline: Pipeline) -> None:
        """Visit a pipeline."""

    def visit_yield(self, stmt: Yield) -> None:
        """Visit a Yield."""

    def visit_if(self, stmt: If) -> None:
        """Visit an If block."""

    def visit_for_each(self, stmt: ForEach) -> None:
        """Visit a ForEach block."""

    def visit_try_from_cache(self, stmt: TryFromCache) -> None:
        """Visit a TryFromCache block."""

    def visit_write_to_cache(self, stmt: WriteToCache) -> None:
        """Visit a WriteToCache statement."""

    def visit_operation(self, stmt: Operation) -> None:
        """Visit an operation."""
