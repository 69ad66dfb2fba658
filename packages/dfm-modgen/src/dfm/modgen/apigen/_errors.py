"""Errors raised while generating a federation package."""

from __future__ import annotations

__all__ = ["GenerationError"]


class GenerationError(Exception):
    """The config is valid but cannot be turned into a package (e.g. a name clash)."""
