"""The NetIR statements of discovery nets (``Pipeline(mode="discovery")``).

A discovery net has one transition per site, on the start signal: one
:class:`AdapterDiscovery` per operation the site offers, then an
:class:`AdviceReport` collecting their advice into the list the site yields to
``_dfm_discovery_``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._ir import IRStmt
from ._ir_values import TaggedValue


class AdapterDiscovery(IRStmt):
    """Ask an operation's adapter for advice on its parameters.

    ``stmt_id = await discover(site, "[provider.]discover_<op>", **literal_params)``:
    the advice (a ``FieldAdvice`` or None), never an exception. ``literal_params``
    are the parameters the pipeline set, with ``Advise()`` for PlaceParams; node
    references are left out (they have no value in discovery).
    """

    dfm_class_name: Literal["dfm.irgen.AdapterDiscovery"] = "dfm.irgen.AdapterDiscovery"
    stmt_id: str
    node_id: int | str
    adapter: str
    provider: str | None = None
    literal_params: dict[str, TaggedValue] = Field(default_factory=dict)

    @property
    def method_name(self) -> str:
        """The generated site method: ``discover_`` + the operation with dots as ``_``."""
        return "discover_" + self.adapter.replace(".", "_")


class AdviceEntry(BaseModel):
    """One operation's entry in an :class:`AdviceReport`."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    node_id: int | str
    stmt_id: str


class AdviceReport(IRStmt):
    """``stmt_id = [(NodeId(node_id), <advice of stmt_id>), …]``, in entry order."""

    dfm_class_name: Literal["dfm.irgen.AdviceReport"] = "dfm.irgen.AdviceReport"
    stmt_id: str
    entries: list[AdviceEntry] = Field(default_factory=list)
