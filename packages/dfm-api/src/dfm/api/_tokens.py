"""Tokens besides data: StopToken, ErrorToken, PickledObject, and the sites' SkipToken."""

from __future__ import annotations

import base64
import pickle
import traceback
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

from ._node import describe_node


class StopToken(BaseModel):
    """Marks that a frame (or, with the stop frame, the whole job) ended without error."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    token: Literal["@dfm-stop-token"] = "@dfm-stop-token"

    def __str__(self) -> str:
        return "StopToken"


class SkipToken(BaseModel):
    """Marks that a frame does not run here: an ``If`` was false, or a cache hit.

    Sites send it to each other in place of the values a skipped block would have
    computed; it never reaches the application (a skipped frame still gets its
    ``StopToken``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    token: Literal["@dfm-skip-token"] = "@dfm-skip-token"

    def __str__(self) -> str:
        return "SkipToken"


class ErrorInfo(BaseModel):
    """One cause of an error: exception type, message, traceback, and where it happened.

    Attributes:
        type: The exception's class name (or the runtime's own kind of error).
        message: What went wrong.
        stack_trace: The traceback, if there was an exception.
        node_id: The pipeline node that failed.
        site: The site it failed on.
        operation: The failed operation's API name (``stats.Summarize``) or block kind
            (``ForEach``, ``If``, ``TryFromCache``), when the site knows it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    type: str
    message: str
    stack_trace: str = ""
    node_id: int | str | None = None
    site: str | None = None
    operation: str | None = None

    @property
    def where(self) -> str:
        """Where it happened, as messages say it: ``stats.Summarize (node 3) on south``."""
        return describe_node(self.operation, self.node_id, self.site)


class ErrorToken(BaseModel):
    """An error travelling as data: it replaces the values that depend on a failure.

    It keeps every cause: when errors from several branches meet, their infos are
    concatenated, not wrapped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    token: Literal["@dfm-error-token"] = "@dfm-error-token"
    errors: list[ErrorInfo]

    @classmethod
    def from_exception(
        cls,
        error: BaseException,
        node_id: int | str | None = None,
        site: str | None = None,
        operation: str | None = None,
    ) -> ErrorToken:
        """An ErrorToken for an exception, with the exception's own traceback."""
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        info = ErrorInfo(
            type=type(error).__name__,
            message=str(error),
            stack_trace=trace,
            node_id=node_id,
            site=site,
            operation=operation,
        )
        return cls(errors=[info])

    @classmethod
    def merge(cls, tokens: Iterable[ErrorToken]) -> ErrorToken:
        """One token holding every distinct cause of the given tokens, in order."""
        tokens = list(tokens)
        if len(tokens) == 1:
            return tokens[0]
        seen: list[ErrorInfo] = []
        for token in tokens:
            seen.extend(info for info in token.errors if info not in seen)
        return cls(errors=seen)

    @classmethod
    def from_error_tokens(cls, tokens: Iterable[ErrorToken]) -> ErrorToken:
        """Alias of :meth:`merge`, the name nv-dfm-core used."""
        return cls.merge(tokens)

    def __str__(self) -> str:
        causes = "; ".join(
            f"{e.type}: {e.message}"
            + (f", at {e.where}" if e.site or e.operation or e.node_id is not None else "")
            for e in self.errors
        )
        return f"ErrorToken[{causes}]"

    def print(self) -> None:
        """Print every cause with its traceback."""
        for info in self.errors:
            print(f"{info.type}: {info.message}, at {info.where}")
            print(info.stack_trace)


PICKLED_TAG: Literal["__dfm__pickled__"] = "__dfm__pickled__"
"""The ``tag`` of a PickledObject's JSON form."""


class PickledObject(BaseModel):
    """A literal that is not JSON, carried in pipeline JSON as base64 pickle.

    ``PickledObject(value)`` fails if the value cannot be pickled. Its JSON form is
    ``{"tag": "__dfm__pickled__", "value": <base64 pickle>}``. Loading that form never
    unpickles: a pipeline read from JSON holds an :class:`EncodedLiteral` instead, and
    only a site whose config allows pickle decodes it.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", defer_build=True, arbitrary_types_allowed=True
    )

    tag: Literal["__dfm__pickled__"] = PICKLED_TAG
    value: Any

    def __init__(self, value: Any = None, /, **data: Any) -> None:
        """Wrap a picklable value (positionally or as ``value=``)."""
        # With a custom __init__ pydantic builds instances as cls(**data): never make
        # PickledObject a union member that may see other dicts (non-str keys would
        # raise TypeError); statements revive its JSON form in their own validator.
        if not data:
            data = {"value": value}
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _refuse_json_or_check(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tag") == PICKLED_TAG:
            raise ValueError(
                "A PickledObject's JSON form is not unpickled: loading data must not run "
                "code. Pipelines keep it as a dfm.api.EncodedLiteral, which a site that "
                "allows pickle decodes; decode it yourself only if you trust its source "
                "(EncodedLiteral(('pickle', payload)).decode(dfm.api.TRUSTED))"
            )
        if isinstance(data, dict):
            try:
                pickle.dumps(data.get("value"))
            except Exception as e:
                name = type(data.get("value")).__name__
                raise ValueError(f"PickledObject: cannot pickle {name}: {e}") from e
        return data

    @field_serializer("value")
    def _pickle(self, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value)).decode("ascii")

    def __eq__(self, other: object) -> bool:
        """Equal to a PickledObject of an equal value (others decide for themselves)."""
        if not isinstance(other, PickledObject):
            return NotImplemented
        try:
            return bool(self.value == other.value)
        except Exception:
            return self.value is other.value

    def __hash__(self) -> int:
        """Identity hash: the wrapped value need not be hashable."""
        return id(self)
