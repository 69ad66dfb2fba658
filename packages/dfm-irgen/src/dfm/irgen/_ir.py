"""NetIR: the Petri net one site runs for one pipeline.

Execution model (what the runtime implements; docs/internals.md has the whole of it):

* Every transition and place has a depth: its frames have ``depth + 1`` levels (a ForEach
  body runs one level deeper than the ForEach). Every place holds at most one value per
  frame; an input from a shallower producer holds one value per prefix, which serves
  every deeper frame under it. A transition fires for frame F once each input holds a
  value for F (or its prefix of F); the values are taken.
* If an input value is an ``ErrorToken``, the body is skipped and the merged error is
  sent to every target of ``sends``. Else, if one is a ``SkipToken``, the transition
  skips (a ``SkipToken`` to every non-yield target, nothing to the application). If the
  body raises, the error (with the failing node's id) is sent to every target.
  Otherwise each send is performed in order.
* A ``DoneValue`` send (to the status transition or a ForEach's collect) carries the
  merged errors of the earlier sends of the firing that could not be performed, else a
  control token.
* A token whose frame has at most as many levels as its place's depth closes that
  prefix ("no more tokens under it"); the stop frame closes everything. When all inputs
  of a transition have seen the close of a prefix and no firing under it runs, the
  transition forwards it to every non-yield target; for the stop frame it also sends a
  ``StopToken`` to the status place, and is finished.
* ``Transition.block`` selects a block kind (fan-out, scatter, collect, condition,
  cache lookup and write) implemented by the runtime; see ``_ir_blocks``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import ConfigDict, Field, SerializeAsAny, model_validator

from dfm.api import Frame, PolymorphicBaseModel

from ._ir_blocks import BlockSpec, Guard
from ._ir_values import (
    IRModel,
    ParamValue,
    SendData,
    TaggedValue,
)


class InPlace(IRModel):
    """An input place of a transition.

    ``origin="external"`` places are filled by the application (parameters and the
    start signal) through :attr:`NetIR.external`; internal ones by other transitions.
    """

    name: str
    kind: Literal["control", "data"]
    origin: Literal["internal", "external"] = "internal"
    type: str = "Any"
    depth: int = Field(default=0, ge=0)


class IRStmt(PolymorphicBaseModel):
    """A statement of a transition body."""


class AdapterCall(IRStmt):
    """Call an operation's adapter: ``stmt_id = [await] site.[provider.]call_<op>(**params)``.

    Only parameters the pipeline set explicitly are passed, so adapter defaults apply.
    A result that is a generator (or any iterator) is collected into a list, unless
    ``stream``: then it goes as is, by reference, to the fan-out of a ForEach on the same
    site that iterates it as it is produced.
    """

    dfm_class_name: Literal["dfm.irgen.AdapterCall"] = "dfm.irgen.AdapterCall"
    stmt_id: str
    node_id: int | str
    adapter: str
    provider: str | None = None
    literal_params: dict[str, TaggedValue] = Field(default_factory=dict)
    stmt_params: dict[str, ParamValue] = Field(default_factory=dict)
    is_async: bool = True
    stream: bool = False

    @property
    def method_name(self) -> str:
        """The generated site method: ``call_`` + the operation name with dots as ``_``."""
        return "call_" + self.adapter.replace(".", "_")


class TokenSend(IRModel):
    """Send a token to a place of a site, or (``is_yield``) to the application.

    ``guarded``: one of the sends of an If fused into this transition (see ``Guard``).
    """

    site: str
    place: str
    kind: Literal["control", "data"] = "data"
    is_yield: bool = False
    node_id: int | str | None = None
    data: SendData
    guarded: bool = False


class Transition(IRModel):
    """One transition: fires per frame when all inputs have a value for that frame.

    Without ``block`` it calls the adapters of ``body`` in order and then performs its
    sends (a transition without a body only forwards). With ``block`` it is one of the
    block kinds the runtime implements (see ``_ir_blocks``).
    """

    name: str
    node_id: int | str | None = None
    depth: int = Field(default=0, ge=0)
    inputs: list[InPlace] = Field(min_length=1)
    body: list[SerializeAsAny[IRStmt]] = Field(default_factory=list)
    sends: list[TokenSend] = Field(default_factory=list)
    block: BlockSpec | None = None
    guard: Guard | None = None


class YieldPlace(IRModel):
    """A place of the application that receives yields (or status tokens).

    ``multiuse`` places are shared by several ``Yield(..., multiuse=True)``: each frame
    may bring more than one value there.
    """

    kind: Literal["control", "data"]
    place: str
    type: str = "Any"
    multiuse: bool = False


class PlacedOperation(IRModel):
    """Where one operation of a prepared pipeline runs, and the costs that decided it.

    Attributes:
        operation: The operation's name in the federation config, e.g. ``stats.Summarize``.
        node_id: The pipeline node.
        site: The site it runs on.
        costs: Estimated seconds on each candidate site, as placement compared them (a
            sink's time including the sends of its yields to the homesite; an input's
            time including the send to its consumer's site). One entry when pinned.
        output_size: The estimated size of its output, in bytes.
    """

    # A site where a keep-on-site value would have to leave costs infinitely much: JSON
    # keeps that as the string "Infinity" (the default, null, would not load back).
    model_config = ConfigDict(
        frozen=True, extra="forbid", defer_build=True, ser_json_inf_nan="strings"
    )

    operation: str
    node_id: int | str
    site: str
    costs: dict[str, float] = Field(default_factory=dict)
    output_size: float = 0.0


def _fingerprint(data: dict[str, Any]) -> str:
    data = {k: v for k, v in data.items() if k != "fingerprint"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class NetIR(IRModel):
    """The net of one site: its transitions and how application inputs reach them.

    ``external`` maps an external input (a PlaceParam's place, or ``__start_place__``
    for the per-frame start signal) to the internal places it fills on this site.
    ``fingerprint`` is the SHA-256 of the canonical JSON of everything else; it is
    computed on construction and checked when given.
    """

    site: str
    homesite: str
    federation_name: str
    pipeline_name: str | None = None
    api_version: str = ""
    transitions: list[Transition]
    external: dict[str, list[str]] = Field(default_factory=dict)
    fingerprint: str = ""

    @model_validator(mode="after")
    def _set_fingerprint(self) -> NetIR:
        actual = _fingerprint(self.model_dump(mode="json"))
        if self.fingerprint and self.fingerprint != actual:
            raise ValueError(
                f"NetIR of site {self.site!r} does not match its fingerprint: it was changed "
                "after compilation; prepare the pipeline again"
            )
        object.__setattr__(self, "fingerprint", actual)
        return self

    def pick_input_params(
        self, params: list[tuple[Frame, dict[str, Any]]]
    ) -> list[tuple[Frame, dict[str, Any]]]:
        """The inputs of this site, per frame: only the external names it consumes.

        Raises:
            ValueError: A non-stop frame lacks an input this site needs.
        """
        picked: list[tuple[Frame, dict[str, Any]]] = []
        for frame, values in params:
            if frame.is_stop_frame():
                picked.append((frame, {}))
                continue
            mine = {}
            for name in self.external:
                if name in values:
                    mine[name] = values[name]
                elif not name.startswith("__"):
                    raise ValueError(
                        f"Frame {frame}: parameter set is missing {name!r}, needed on site "
                        f"{self.site!r}"
                    )
            picked.append((frame, mine))
        return picked
