"""Lowering: the placed logical graph becomes one NetIR per participating site.

Every operation and every block becomes transitions (see ``_lower_blocks`` for the block
kinds); inputs are connected producer → consumer; transitions in a block that would not
see the block's skip (or its element frames) get the block's control; every transition
that ends a path or yields reports its frame to its ForEach's collect or the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dfm.api import (
    START_PLACE_NAME,
    STATUS_PLACE_NAME,
    FedInfo,
    Pipeline,
    describe_node,
    encode_literal,
)

from ._fuse import fuse_conditions
from ._graph import LogicalGraph
from ._ir import AdapterCall, InPlace, IRStmt, NetIR, TokenSend, Transition, YieldPlace
from ._ir_blocks import BlockSpec, Collect, FanOut
from ._ir_values import (
    DoneValue,
    FlowValue,
    LiteralValue,
    PlaceValue,
    ResultValue,
    SendData,
    StmtValue,
    StopValue,
)
from ._nodes import CacheNode, ForEachNode, OpNode, Scope, YieldNode
from ._placement import Placement
from ._plan import Plan, collect_ident

STATUS_TRANSITION = "_status_"


def status_site(ends: list[str], homesite: str, home_runs: bool) -> str:
    """The site that decides each frame's status from the reports of the frame's ends.

    Args:
        ends: The site of each transition that reports to the status (a site per report).
        homesite: Where the status goes.
        home_runs: Whether the homesite runs any transition of the job.

    The status goes to the homesite, so the frame's last report should be one message from
    it: when every end is on one site, that site decides (its reports are local, one
    message carries the status home); else the homesite, if it takes part anyway (each
    report one message from it). A homesite that runs nothing never decides: a job that
    needs nothing of the application's process survives it (``Session.reattach``), so
    the site with the most ends does (ties by name).
    """
    counts: dict[str, int] = {}
    for site in ends:
        counts[site] = counts.get(site, 0) + 1
    if len(counts) == 1:
        return ends[0]
    if home_runs or not counts:
        return homesite
    return min(counts, key=lambda site: (-counts[site], site))


@dataclass
class Draft:
    """A transition being built.

    Attributes:
        scope: The block it sits in (decides its control and where it reports).
        sources: The nodes it takes values from (decides whether it needs control).
    """

    name: str
    site: str
    node_id: int | str | None
    depth: int
    scope: Scope
    inputs: list[InPlace] = field(default_factory=list)
    sends: list[TokenSend] = field(default_factory=list)
    body: list[IRStmt] = field(default_factory=list)
    block: BlockSpec | None = None
    sources: list[str] = field(default_factory=list)
    has_params: bool = False
    gated: bool = True  # whether it takes its block's control when it needs it
    feeds: dict[str, str] = field(default_factory=dict)  # input place → producing draft
    guard: Any = None

    def has_input(self, place: str) -> bool:
        return any(p.name == place for p in self.inputs)


@dataclass
class _SiteNet:
    transitions: list[Transition] = field(default_factory=list)
    external: dict[str, list[str]] = field(default_factory=dict)

    def bind(self, external: str, place: str) -> None:
        self.external.setdefault(external, []).append(place)


def literal(value: Any, where: str = "A literal parameter") -> tuple[str, Any]:
    """A pipeline literal in tagged form.

    Raises:
        ValueError: The literal cannot be serialized.
    """
    # An EncodedLiteral (a pickle or model read from pipeline JSON) keeps its payload:
    # the site decodes it under its own policy, never the application.
    try:
        return encode_literal(value)
    except ValueError as e:
        raise ValueError(f"{where} cannot be serialized: {e}") from e


class Lowering:
    """Builds the NetIRs of one pipeline; see the execution model in ``_ir``."""

    def __init__(
        self,
        pipeline: Pipeline,
        plan: Plan,
        placement: Placement,
        fed_info: FedInfo,
        homesite: str,
        federation: str,
    ) -> None:
        self.pipeline = pipeline
        self.plan = plan
        self.graph: LogicalGraph = plan.graph
        self.placement = placement
        self.fed_info = fed_info
        self.homesite = homesite
        self.federation = federation
        self.status_site = homesite  # decided by lower(), once the frames' ends are known
        self.drafts: dict[str, Draft] = {}
        self.nets: dict[str, _SiteNet] = {}
        self.cond_inputs: dict[str, Any] = {}  # If ident → its condition's inputs

    # -- helpers ---------------------------------------------------------------------
    def site_of(self, ident: str) -> str:
        return self.placement.sites[self.plan.rep(ident)]

    def _net(self, site: str) -> _SiteNet:
        return self.nets.setdefault(site, _SiteNet())

    def add(self, draft: Draft) -> Draft:
        if draft.name in self.drafts:
            raise AssertionError(f"two transitions named {draft.name}")
        self.drafts[draft.name] = draft
        return draft

    def external_input(self, draft: Draft, place: str, external: str) -> None:
        kind: Literal["control", "data"] = "control" if external == START_PLACE_NAME else "data"
        draft.inputs.append(InPlace(name=place, kind=kind, origin="external"))
        draft.has_params = draft.has_params or external != START_PLACE_NAME
        self._net(draft.site).bind(external, place)

    def send(self, producer: Draft, consumer: Draft, place: str, data: SendData, **kw: Any) -> None:
        """A send from ``producer`` to an input ``place`` of ``consumer`` (created here)."""
        kind: Literal["control", "data"] = kw.pop("kind", "data")
        consumer.inputs.append(InPlace(name=place, kind=kind, depth=producer.depth))
        consumer.feeds[place] = producer.name
        producer.sends.append(
            TokenSend(site=consumer.site, place=place, kind=kind, data=data, **kw)
        )

    def producer_for(
        self, source: str, site: str, sel: int | str | None, issubs: bool | None, user: str = ""
    ) -> tuple[Draft, SendData, int | str | None]:
        """Where the value of ``source`` is sent from (for a user on ``site``).

        An operation's own transition; for a generator result consumed by a ForEach, that
        ForEach's fan-out (its collected list) for every other user; a ForEach element:
        the fan-out's scatter on the user's site; a TryFromCache result: its write.
        """
        node = self.graph.node(source)
        if isinstance(node, OpNode):
            fan_out = self.plan.stream.get(source)
            if fan_out is not None and fan_out != user:
                draft = self.drafts[fan_out]
                return draft, ResultValue(sel=sel, issubs=issubs), node.node_id
            draft = self.drafts[source]
            return draft, StmtValue(stmt_id=source, sel=sel, issubs=issubs), node.node_id
        if isinstance(node, ForEachNode):
            from ._lower_blocks import scatter

            draft = scatter(self, node, site)
            return draft, ResultValue(sel=sel, issubs=issubs), node.node_id
        assert isinstance(node, CacheNode)
        return self.drafts[source], ResultValue(sel=sel, issubs=issubs), node.node_id

    def connect(
        self,
        consumer: Draft,
        place: str,
        source: str,
        sel: int | str | None = None,
        issubs: bool | None = None,
    ) -> None:
        """A data input of ``consumer`` carrying the value of node ``source``."""
        producer, data, node_id = self.producer_for(
            source, consumer.site, sel, issubs, consumer.name
        )
        self.send(producer, consumer, place, data, node_id=node_id)
        consumer.sources.append(source)

    def yield_send(self, source: str, place: str, sel: Any, issubs: bool | None) -> None:
        """A Yield of the value of ``source``, sent by its producer."""
        node = self.graph.node(source)
        site = self.homesite
        if isinstance(node, ForEachNode):
            from ._lower_blocks import existing_scatter_site

            site = existing_scatter_site(self, node)
        producer, data, node_id = self.producer_for(source, site, sel, issubs)
        producer.sends.append(
            TokenSend(site=self.homesite, place=place, is_yield=True, node_id=node_id, data=data)
        )

    # -- operations and yields -------------------------------------------------------
    def _draft_op(self, node: OpNode) -> None:
        self.add(
            Draft(
                name=node.ident,
                site=self.site_of(node.ident),
                node_id=node.node_id,
                depth=node.scope.depth,
                scope=node.scope,
            )
        )

    def _connect_op(self, node: OpNode) -> None:
        draft = self.drafts[node.ident]
        params: dict[str, StmtValue | PlaceValue] = {}
        for name, ref in node.refs.items():
            place = f"{node.ident}__{name}"
            self.connect(draft, place, ref.id.as_identifier(), ref.sel, ref.issubs)
            params[name] = PlaceValue(place=place)
        for name, param in node.params.items():
            place = f"{node.ident}__{name}"
            self.external_input(draft, place, param.place)
            params[name] = PlaceValue(place=place)
        for up in node.after:
            place = f"{node.ident}__after__{up}"
            producer = self.drafts[up]
            self.send(producer, draft, place, FlowValue(), kind="control")
            draft.sources.append(up)
        info = self.fed_info.operation_info(draft.site, node.api_name, node.op.provider)
        assert info is not None  # placement only picks sites that offer the operation
        draft.body.append(
            AdapterCall(
                stmt_id=node.ident,
                node_id=node.node_id,
                adapter=node.api_name,
                provider=node.op.provider,
                literal_params={
                    k: literal(v, f"Parameter {k!r} of {node.describe()}")
                    for k, v in node.literals.items()
                },
                stmt_params=params,
                is_async=info.is_async,
                stream=node.ident in self.plan.stream,
            )
        )

    def _lower_yield(self, y: YieldNode) -> None:
        place = y.stmt.place
        gate = self.plan.gated_yields.get(y.ident)
        if gate is not None:
            from ._lower_blocks import gated_yield

            gated_yield(self, y, self.graph.blocks[gate])
            return
        if y.ref is not None:
            self.yield_send(y.ref.id.as_identifier(), place, y.ref.sel, y.ref.issubs)
            return
        # A Yield of a literal or of a parameter is a transition of its own on the homesite.
        draft = self.add(Draft(y.ident, self.homesite, None, 0, y.scope))
        if y.param is not None:
            value_place = f"{y.ident}__value"
            self.external_input(draft, value_place, y.param.place)
            data: PlaceValue | LiteralValue = PlaceValue(place=value_place)
        else:
            what = f"The value of {describe_node('Yield', y.stmt.dfm_node_id.ident)}"
            data = LiteralValue(value=literal(y.stmt.value, what))
        draft.sends.append(TokenSend(site=self.homesite, place=place, is_yield=True, data=data))

    # -- the whole net ---------------------------------------------------------------
    def lower(self) -> dict[str, NetIR]:
        """Build every site's NetIR."""
        from . import _lower_blocks as blocks

        graph = self.graph
        for ident in graph.order:
            node = graph.node(ident)
            if isinstance(node, OpNode):
                self._draft_op(node)
            else:
                blocks.draft_block(self, node)
        for ident in graph.order:
            node = graph.node(ident)
            if isinstance(node, OpNode):
                self._connect_op(node)
            else:
                blocks.connect_block(self, node)
        for y in graph.yields:
            self._lower_yield(y)
        for draft in list(self.drafts.values()):
            if draft.gated and self.plan.needs_entry(draft.scope, draft.sources, draft.has_params):
                blocks.entry_control(self, draft)
        fuse_conditions(self)
        status = self._report_done()
        blocks.acknowledge_elements(self)
        for draft in [*self.drafts.values(), status]:
            if not draft.inputs:
                sep = "_" if draft.name.endswith("_") else "__"  # _status__start
                self.external_input(draft, f"{draft.name}{sep}start", START_PLACE_NAME)
            self._net(draft.site).transitions.append(
                Transition(
                    name=draft.name,
                    node_id=draft.node_id,
                    depth=draft.depth,
                    inputs=draft.inputs,
                    body=draft.body,
                    sends=_ordered_sends(draft.sends),
                    block=draft.block,
                    guard=draft.guard,
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

    def _report_done(self) -> Draft:
        """Reports of every path's end to its collect (or the status), and the status."""
        reporters: list[tuple[Draft, Scope | None]] = []
        for draft in list(self.drafts.values()):
            # Sinks report that their frame is done; so does every transition that
            # yields, because a yield that cannot be delivered fails the frame; a collect
            # reports the outcome of its ForEach. (A fan-out reports to its collect,
            # with the errors of its own sends.)
            if isinstance(draft.block, FanOut):
                continue
            collect = isinstance(draft.block, Collect)
            sink = not any(not s.is_yield for s in draft.sends)
            if collect or sink or any(s.is_yield for s in draft.sends):
                reporters.append((draft, draft.scope.for_each()))
        ends = [draft.site for draft, body in reporters if body is None]
        home_runs = any(draft.site == self.homesite for draft in self.drafts.values())
        self.status_site = status_site(ends, self.homesite, home_runs)
        status = Draft(STATUS_TRANSITION, self.status_site, None, 0, self.graph.root, gated=False)
        status.sends.append(
            TokenSend(
                site=self.homesite,
                place=STATUS_PLACE_NAME,
                kind="control",
                is_yield=True,
                data=StopValue(),
            )
        )
        for draft, body in reporters:
            target = status if body is None else self.drafts[collect_ident(str(body.block))]
            place = f"_done_{draft.site}_{draft.name}"
            # A collect counts closes; it needs a report only for an error, or to
            # acknowledge each element of a sequential ForEach.
            quiet = body is not None and not self._sequential(str(body.block))
            self.send(draft, target, place, DoneValue(only_errors=quiet), kind="control")
        return status

    def _sequential(self, for_each: str) -> bool:
        node = self.graph.blocks[for_each]
        return isinstance(node, ForEachNode) and node.sequential

    def yield_places(self) -> list[YieldPlace]:
        """The application's places: every yield place, then the status place."""
        multiuse = {y.stmt.place for y in self.graph.yields if y.stmt.multiuse}
        places = [
            YieldPlace(kind="data", place=p, multiuse=p in multiuse)
            for p in sorted(self.graph.yield_places)
        ]
        return [*places, YieldPlace(kind="control", place=STATUS_PLACE_NAME)]


def _ordered_sends(sends: list[TokenSend]) -> list[TokenSend]:
    # The report of the frame's outcome goes last: it carries the errors of the sends
    # before it. (Fan-outs get theirs when connected, before their scatters exist.)
    done = [s for s in sends if isinstance(s.data, DoneValue)]
    return [s for s in sends if not isinstance(s.data, DoneValue)] + done
