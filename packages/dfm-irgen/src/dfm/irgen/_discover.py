"""Lowering in discovery mode: every site that offers an operation is asked for advice.

Nothing is placed. For each operation, every candidate site allowed to run it (pin,
``BestOf``, provider) gets an :class:`AdapterDiscovery` with the parameters the
pipeline set: literals as they are, PlaceParams as ``Advise()``, node references left
out. Per site, one transition on the start signal calls them all, yields the
:class:`AdviceReport` to ``_dfm_discovery_`` and reports to the status transition,
which yields the frame's ``StopToken`` once every site reported (and the final one
on stop), as in execute mode.
"""

from __future__ import annotations

from typing import Any

from dfm.api import (
    DISCOVERY_PLACE_NAME,
    START_PLACE_NAME,
    STATUS_PLACE_NAME,
    Advise,
    FedInfo,
    Pipeline,
    encode_literal,
    encode_value,
)

from ._graph import LogicalGraph
from ._ir import InPlace, IRStmt, NetIR, TokenSend, Transition, YieldPlace
from ._ir_discovery import AdapterDiscovery, AdviceEntry, AdviceReport
from ._ir_values import DoneValue, StmtValue, StopValue
from ._lower import STATUS_TRANSITION, status_site
from ._nodes import OpNode
from ._placement import allowed_sites

DISCOVERY_TRANSITION = "_discovery_"
REPORT_STMT = "_advice_"


def _literal(node: OpNode, name: str, value: Any) -> tuple[str, Any]:
    # As in execute mode: an EncodedLiteral keeps its payload, for the site to decode
    # under its own policy.
    try:
        return encode_literal(value)
    except ValueError as e:
        raise ValueError(
            f"Parameter {name!r} of {node.describe()} cannot be serialized: {e}"
        ) from e


def _discovery_of(node: OpNode) -> AdapterDiscovery:
    params = {name: _literal(node, name, value) for name, value in node.literals.items()}
    for name in node.params:
        params[name] = encode_value(Advise())
    return AdapterDiscovery(
        stmt_id=node.ident,
        node_id=node.node_id,
        adapter=node.api_name,
        provider=node.op.provider,
        literal_params=dict(sorted(params.items())),
    )


class DiscoveryLowering:
    """Builds the discovery NetIRs of one pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        graph: LogicalGraph,
        fed_info: FedInfo,
        homesite: str,
        federation: str,
        candidates: list[str],
    ) -> None:
        self.pipeline = pipeline
        self.graph = graph
        self.fed_info = fed_info
        self.homesite = homesite
        self.federation = federation
        self.candidates = candidates
        self.status_site = homesite

    def lower(self) -> dict[str, NetIR]:
        """Every asked site's NetIR (and the status site's)."""
        asked: dict[str, list[AdapterDiscovery]] = {}
        for ident in self.graph.order:
            node = self.graph.ops.get(ident)
            if node is None:
                continue  # a block: only its operations are asked
            for site, _info in allowed_sites(node, self.fed_info, self.candidates):
                asked.setdefault(site, []).append(_discovery_of(node))
        self.status_site = status_site(sorted(asked), self.homesite, self.homesite in asked)
        status = Transition(
            name=STATUS_TRANSITION,
            inputs=[
                InPlace(name=f"_done_{site}_{DISCOVERY_TRANSITION}", kind="control")
                for site in sorted(asked)
            ]
            or [InPlace(name=f"{STATUS_TRANSITION}_start", kind="control", origin="external")],
            sends=[
                TokenSend(
                    site=self.homesite,
                    place=STATUS_PLACE_NAME,
                    kind="control",
                    is_yield=True,
                    data=StopValue(),
                )
            ],
        )
        transitions: dict[str, list[Transition]] = {
            site: [self._site_transition(site, calls)] for site, calls in asked.items()
        }
        transitions.setdefault(self.status_site, []).append(status)
        nets = {}
        for site in sorted(transitions):
            starts = [p.name for t in transitions[site] for p in t.inputs if p.origin == "external"]
            nets[site] = NetIR(
                site=site,
                homesite=self.homesite,
                federation_name=self.federation,
                pipeline_name=self.pipeline.name,
                api_version=self.pipeline.api_version,
                transitions=transitions[site],
                external={START_PLACE_NAME: starts} if starts else {},
            )
        return nets

    def _site_transition(self, site: str, calls: list[AdapterDiscovery]) -> Transition:
        report = AdviceReport(
            stmt_id=REPORT_STMT,
            entries=[AdviceEntry(node_id=c.node_id, stmt_id=c.stmt_id) for c in calls],
        )
        body: list[IRStmt] = [*calls, report]
        return Transition(
            name=DISCOVERY_TRANSITION,
            inputs=[
                InPlace(name=f"{DISCOVERY_TRANSITION}_start", kind="control", origin="external")
            ],
            body=body,
            sends=[
                TokenSend(
                    site=self.homesite,
                    place=DISCOVERY_PLACE_NAME,
                    is_yield=True,
                    data=StmtValue(stmt_id=REPORT_STMT),
                ),
                TokenSend(
                    site=self.status_site,
                    place=f"_done_{site}_{DISCOVERY_TRANSITION}",
                    kind="control",
                    data=DoneValue(),
                ),
            ],
        )

    def yield_places(self) -> list[YieldPlace]:
        """The application's places: the discovery place, then the status place."""
        return [
            YieldPlace(kind="data", place=DISCOVERY_PLACE_NAME),
            YieldPlace(kind="control", place=STATUS_PLACE_NAME),
        ]
