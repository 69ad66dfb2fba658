"""The compiler's entry point: Pipeline + FedInfo → PreparedPipeline."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from dfm.api import FedInfo, Pipeline

from ._checks import literal_problems, param_checks
from ._discover import DiscoveryLowering
from ._graph import LogicalGraph, build_graph
from ._ir import PlacedOperation
from ._lower import Lowering
from ._placement import CostModel, place
from ._plan import make_plan, placement_nodes
from ._prepared import PreparedPipeline

_logger = logging.getLogger("dfm.irgen")


def candidate_sites(
    fed_info: FedInfo, homesite: str, restrict_to_sites: Sequence[str] | Literal["homesite"] | None
) -> list[str]:
    """The sites operations may be placed on, in fed_info order.

    Raises:
        ValueError: An unknown site, an empty list, or a list without the homesite.
    """
    known = list(fed_info.sites)
    if homesite not in fed_info.sites:
        raise ValueError(
            f"Homesite {homesite!r} is not a site of the federation; its sites: {known}"
        )
    if restrict_to_sites is None:
        return known
    if restrict_to_sites == "homesite":
        return [homesite]
    if isinstance(restrict_to_sites, str):
        raise ValueError(
            "restrict_to_sites must be a list of site names or 'homesite', "
            f"not {restrict_to_sites!r}"
        )
    wanted = list(restrict_to_sites)
    if not wanted:
        raise ValueError("restrict_to_sites is empty: pass None to allow every site")
    unknown = [s for s in wanted if s not in fed_info.sites]
    if unknown:
        raise ValueError(
            f"restrict_to_sites names unknown site(s) {unknown}; the sites are {known}"
        )
    if homesite not in wanted:
        raise ValueError(
            f"restrict_to_sites {wanted} must include the homesite {homesite!r}: results and "
            "status are delivered through it"
        )
    return [s for s in known if s in wanted]


def prepare(
    pipeline: Pipeline,
    fed_info: FedInfo,
    homesite: str,
    federation_name: str,
    restrict_to_sites: Sequence[str] | Literal["homesite"] | None = None,
    logger: logging.Logger | None = None,
) -> PreparedPipeline:
    """Compile a pipeline into one NetIR per participating site.

    In discovery mode (``pipeline.mode == "discovery"``) nothing is placed: every
    candidate site offering an operation gets a net asking its adapter for advice
    (see ``dfm.irgen._discover``).

    Args:
        pipeline: The pipeline to compile.
        fed_info: The federation's sites, operations and costs.
        homesite: The site of the application; results and status go there.
        federation_name: The federation's code package.
        restrict_to_sites: None for every site, ``"homesite"``, or a list of site names.
        logger: Where warnings go (default: the ``dfm.irgen`` logger).

    Raises:
        ValueError: The pipeline is malformed, uses something not supported yet, a
            literal parameter does not match its declared type (every such literal is
            listed), or an operation cannot be placed; the message names the node.
    """
    log = logger or _logger
    candidates = candidate_sites(fed_info, homesite, restrict_to_sites)
    graph = build_graph(pipeline)
    problems = literal_problems(graph)
    if problems:
        count = len(problems)
        what = "literal parameter does" if count == 1 else "literal parameters do"
        listing = "".join(f"\n  - {p}" for p in problems)
        raise ValueError(f"{count} {what} not match their declared types:{listing}")
    if pipeline.mode == "discovery":
        return _prepare_discovery(pipeline, graph, fed_info, homesite, federation_name, candidates)
    plan = make_plan(graph)
    nodes, yields = placement_nodes(plan, fed_info, candidates)
    model = CostModel(fed_info, federation_name, log)
    placement = place(nodes, yields, fed_info, homesite, model, graph.ops)
    model.warn_missing_once()
    lowering = Lowering(pipeline, plan, placement, fed_info, homesite, federation_name)
    nets = lowering.lower()
    return PreparedPipeline(
        federation_name=federation_name,
        homesite=homesite,
        pipeline_name=pipeline.name,
        api_version=pipeline.api_version,
        mode=pipeline.mode,
        net_irs_by_site=nets,
        yield_places=lowering.yield_places(),
        param_places=sorted(graph.param_places),
        param_checks=param_checks(graph),
        status_site=lowering.status_site,
        placement={ident: placement.sites[plan.rep(ident)] for ident in graph.order},
        placement_details={
            ident: PlacedOperation(
                operation=graph.ops[ident].api_name,
                node_id=graph.ops[ident].node_id,
                site=placement.sites[ident],
                costs=placement.decided.get(ident, {}),
                output_size=placement.sizes[ident],
            )
            for ident in graph.order
            if ident in graph.ops
        },
    )


def _prepare_discovery(
    pipeline: Pipeline,
    graph: LogicalGraph,
    fed_info: FedInfo,
    homesite: str,
    federation_name: str,
    candidates: list[str],
) -> PreparedPipeline:
    # No placement: every candidate site that offers an operation is asked about it.
    lowering = DiscoveryLowering(pipeline, graph, fed_info, homesite, federation_name, candidates)
    nets = lowering.lower()
    return PreparedPipeline(
        federation_name=federation_name,
        homesite=homesite,
        pipeline_name=pipeline.name,
        api_version=pipeline.api_version,
        mode="discovery",
        net_irs_by_site=nets,
        yield_places=lowering.yield_places(),
        param_places=[],
        status_site=lowering.status_site,
    )
