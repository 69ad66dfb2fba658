"""Lowering: the placed logical graph becomes one NetIR per participating site."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dfm.api import (
    START_PLACE_NAME,
    STATUS_PLACE_NAME,
    FedInfo,
    Pipeline,
    encode_literal,
)

from ._graph import LogicalGraph, OpNode, YieldNode
from ._ir import (
    AdapterCall,
    DoneValue,
    FlowValue,
    InPlace,
    IRStmt,
    LiteralValue,
    NetIR,
    PlaceValue,
    StmtValue,
    StopValue,
    TokenSend,
    Transition,
    YieldPlace,
)
from ._placement import Placement

STATUS_TRANSITION = "_status_"


@dataclass
class _SiteNet:
    transitions: list[Transition] = field(default_factory=list)
    external: dict[str, list[str]] = field(default_factory=dict)

    def bind(self, external: str, place: str) -> None:
        self.external.setdefault(external, []).append(place)


@dataclass
class _TransitionDraft:
    name: str
    site: str
    node_id: int | str | None
    inputs: list[InPlace] = field(default_factory=list)
    sends: list[TokenSend] = field(default_factory=list)
    body: list[IRStmt] = field(default_factory=list)


def _literal(value: Any) -> tuple[str, Any]:
    # An EncodedLiteral (a pickle or model read from pipeline JSON) keeps its payload:
    # the site decodes it under its own policy, never the application.
    try:
        return encode_literal(value)
    except ValueError as e:
        raise ValueError(f"A literal parameter cannot be serialized: {e}") from e


class Lowering:
    """Builds the NetIRs of one pipeline; see the execution model in ``_ir``."""

    def __init__(
        self,
        pipeline: Pipeline,
        graph: LogicalGraph,
        placement: Placement,
        fed_info: FedInfo,
        homesite: str,
        federation: str,
    ) -> None:
        self.pipeline = pipeline
        self.graph = graph
        self.placement = placement
        self.fed_info = fed_info
        self.homesite = homesite
        self.federation = federation
        self.drafts: dict[str, _TransitionDraft] = {}
        self.nets: dict[str, _SiteNet] = {}

    def _net(self, site: str) -> _SiteNet:
        return self.nets.setdefault(site, _SiteNet())

    def _external_input(self, draft: _TransitionDraft, place: str, external: str) -> None:
        kind: Literal["control", "data"] = "control" if external == START_PLACE_NAME else "data"
        draft.inputs.append(InPlace(name=place, kind=kind, origin="external"))
        self._net(draft.site).bind(external, place)

    def _lower_op(self, node: OpNode) -> _TransitionDraft:
        site = self.placement.sites[node.ident]
        draft = _TransitionDraft(name=node.ident, site=site, node_id=node.node_id)
        params: dict[str, StmtValue | PlaceValue] = {}
        for name, ref in node.refs.items():
            place = f"{node.ident}__{name}"
            draft.inputs.append(InPlace(name=place, kind="data"))
            params[name] = PlaceValue(place=place)
            producer = self.drafts[ref.id.as_identifier()]
            producer.sends.append(
                TokenSend(
                    site=site,
                    place=place,
                    node_id=producer.node_id,
                    data=StmtValue(stmt_id=producer.name, sel=ref.sel, issubs=ref.issubs),
                )
            )
        for name, param in node.params.items():
            place = f"{node.ident}__{name}"
            self._external_input(draft, place, param.place)
            params[name] = PlaceValue(place=place)
        for up in node.after:
            place = f"{node.ident}__after__{up}"
            draft.inputs.append(InPlace(name=place, kind="control"))
            self.drafts[up].sends.append(
                TokenSend(site=site, place=place, kind="control", data=FlowValue())
            )
        if not draft.inputs:
            self._external_input(draft, f"{node.ident}__start", START_PLACE_NAME)
        info = self.fed_info.operation_info(site, node.api_name, node.op.provider)
        assert info is not None  # placement only picks sites that offer the operation
        draft.body.append(
            AdapterCall(
                stmt_id=node.ident,
                node_id=node.node_id,
                adapter=node.api_name,
                provider=node.op.provider,
                literal_params={k: _literal(v) for k, v in node.literals.items()},
                stmt_params=params,
                is_async=info.is_async,
            )
        )
        return draft

    def _lower_yield(self, y: YieldNode) -> None:
        place = y.stmt.place
        if y.ref is not None:
            producer = self.drafts[y.ref.id.as_identifier()]
            producer.sends.append(
                TokenSend(
                    site=self.homesite,
                    place=place,
                    is_yield=True,
                    node_id=producer.node_id,
                    data=StmtValue(stmt_id=producer.name, sel=y.ref.sel, issubs=y.ref.issubs),
                )
            )
            return
        # A Yield of a literal or of a parameter is a transition of its own on the homesite.
        draft = _TransitionDraft(name=y.ident, site=self.homesite, node_id=None)
        if y.param is not None:
            value_place = f"{y.ident}__value"
            self._external_input(draft, value_place, y.param.place)
            data: PlaceValue | LiteralValue = PlaceValue(place=value_place)
        else:
            self._external_input(draft, f"{y.ident}__start", START_PLACE_NAME)
            data = LiteralValue(value=_literal(y.stmt.value))
        draft.sends.append(TokenSend(site=self.homesite, place=place, is_yield=True, data=data))
        self.drafts[y.ident] = draft

    def lower(self) -> dict[str, NetIR]:
        """Build every site's NetIR."""
        for ident in self.graph.order:
            self.drafts[ident] = self._lower_op(self.graph.ops[ident])
        for y in self.graph.yields:
            self._lower_yield(y)
        leader = self.placement.status_site
        status = _TransitionDraft(name=STATUS_TRANSITION, site=leader, node_id=None)
        status.sends.append(
            TokenSend(
                site=self.homesite,
                place=STATUS_PLACE_NAME,
                kind="control",
                is_yield=True,
                data=StopValue(),
            )
        )
        for draft in self.drafts.values():
            # Sinks report that their frame is done; so does every transition that
            # yields, because a yield that cannot be delivered fails the frame.
            if not draft.sends or any(send.is_yield for send in draft.sends):
                place = f"_done_{draft.site}_{draft.name}"
                status.inputs.append(InPlace(name=place, kind="control"))
                draft.sends.append(
                    TokenSend(site=leader, place=place, kind="control", data=DoneValue())
                )
        if not status.inputs:
            self._external_input(status, f"{STATUS_TRANSITION}_start", START_PLACE_NAME)
        for draft in [*self.drafts.values(), status]:
            self._net(draft.site).transitions.append(
                Transition(
                    name=draft.name,
                    node_id=draft.node_id,
                    inputs=draft.inputs,
                    body=draft.body,
                    sends=draft.sends,
                )
            )
        return {
            site: NetIR(
                site=site,
                homesite=self.homesite,
                federation_name=self.federation,
                pipeline_name=self.pipeline.name,
                api_version=self.pipeline.api_version,
                transitions=net.transitions,
                external=net.external,
            )
            for site, net in sorted(self.nets.items())
        }

    def yield_places(self) -> list[YieldPlace]:
        """The application's places: every yield place, then the status place."""
        multiuse = {y.stmt.place for y in self.graph.yields if y.stmt.multiuse}
        places = [
            YieldPlace(kind="data", place=p, multiuse=p in multiuse)
            for p in sorted(self.graph.yield_places)
        ]
        return [*places, YieldPlace(kind="control", place=STATUS_PLACE_NAME)]
