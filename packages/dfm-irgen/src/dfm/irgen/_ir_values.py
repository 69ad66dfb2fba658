"""The values a NetIR sends and reads: references, constants and control tokens."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaggedValue = tuple[str, Any]
"""A value in the serializer's tagged form, e.g. ``("json", 3)``; see dfm.api.encode_value."""


class IRModel(BaseModel):
    """Base of the NetIR models: frozen, no extra fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class StmtValue(IRModel):
    """The value of a body statement, optionally one item or field of it."""

    kind: Literal["stmt"] = "stmt"
    stmt_id: str
    sel: int | str | None = None
    issubs: bool | None = None


class PlaceValue(IRModel):
    """The value taken from an input place, optionally one item or field of it."""

    kind: Literal["place"] = "place"
    place: str
    sel: int | str | None = None
    issubs: bool | None = None


class LiteralValue(IRModel):
    """A constant, in tagged form."""

    kind: Literal["literal"] = "literal"
    value: TaggedValue


class FlowValue(IRModel):
    """A control token (``FlowInfo``)."""

    kind: Literal["flow"] = "flow"
    hint: int | None = None


class StopValue(IRModel):
    """A ``StopToken`` (sent to the status place)."""

    kind: Literal["stop"] = "stop"


class DoneValue(IRModel):
    """The frame's outcome so far, for the status transition or a ForEach's collect.

    A control token (``FlowInfo``) when every earlier send of this firing went out, or
    the merged ``ErrorToken`` of the sends whose value could not be selected or
    serialized, so that a yield the application never got fails its frame.
    ``only_errors``: sent only when it carries an error (a collect that does not
    acknowledge elements learns that they are done from the closes of its inputs).
    """

    kind: Literal["done"] = "done"
    only_errors: bool = False


class ResultValue(IRModel):
    """The value a block transition computes, optionally one item or field of it.

    The element (scatter), the collected sequence (fan-out), the cached value (cache
    write) or the lookup's outcome (cache lookup, to its write on the same site).
    """

    kind: Literal["result"] = "result"
    sel: int | str | None = None
    issubs: bool | None = None


class ElementValue(IRModel):
    """A fan-out's elements, in batches, to the scatter of one site."""

    kind: Literal["elements"] = "elements"


class AckValue(IRModel):
    """Per element: "everything the body did for it is done" (collect to a sequential fan-out).

    Acks are sent per element only; they take no part in closes or stop.
    """

    kind: Literal["ack"] = "ack"


SendData = Annotated[
    StmtValue
    | PlaceValue
    | LiteralValue
    | FlowValue
    | StopValue
    | DoneValue
    | ResultValue
    | ElementValue
    | AckValue,
    Field(discriminator="kind"),
]
ParamValue = Annotated[StmtValue | PlaceValue, Field(discriminator="kind")]
