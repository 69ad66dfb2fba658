"""Placement: choose, for every operation and block transition, the site where it costs least.

Costs are pairs (time, size) compared lexicographically. The cost of a node on a site is
the sum over its inputs of the cheapest way to get each input there (producer cost plus
send time; a control input costs its send's fixed time), plus its compute time on that
input size. Block transitions (conditions, caches, fan-outs over parameters, fan-ins,
gates) are nodes with zero compute cost on every candidate site. Sinks are placed first,
most expensive first, on their cheapest site; their inputs are then placed backwards,
each on the site that gets its value to the consumer cheapest, keeping any placement
already made. Ties go to the site listed first in fed_info, so placement is the same in
every process.

Results of an operation that keeps them on its site (``keep_on_site`` in fed_info) may
not be sent to another site: such a send costs infinitely much, so consumers are placed
where the data is whenever that is possible. Block transitions that pass a value on (a
cache, a fan-out, a gate, an If's yields) keep what their inputs keep. A placement that
still sends such a value away is repaired (the consumer moves to the data, else the
producer to the consumer) or refused with an error naming the operation, its site and
the consumer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from dfm.api import BestOf, ComputeCostInfo, FedInfo, OperationInfo, SendCostInfo

from ._keep_on_site import KeepOnSite
from ._nodes import OpNode

MISSING_SEND_COST = SendCostInfo(fixed_time=1e6, bandwidth=None)
"""Used between two sites when fed_info gives no send cost: 10^6 s, so that sending
where no cost was declared is a last resort."""

_warned_lock = threading.Lock()
_warned_federations: set[str] = set()

Cost = tuple[float, float]
_NEVER = float("inf")


@dataclass(frozen=True)
class Placement:
    """Where each node runs.

    ``decided`` holds, per node, the cost (seconds) of each candidate site as the
    choice compared them: a sink's time including its yields' sends to the homesite;
    an input's time including the send to the site its consumer was placed on.
    ``sizes`` holds each node's estimated output size (bytes) where it runs.
    """

    sites: dict[str, str]
    decided: dict[str, dict[str, float]]
    sizes: dict[str, float]


@dataclass
class PlacementNode:
    """One thing to place: an operation or a block transition.

    Attributes:
        ident: The node's ident.
        options: The sites it may run on, with its compute cost there.
        upstream: The nodes it takes input from, each with whether the input is control
            (only its send's fixed time counts, not the producer's output size).
        is_operation: Operations decide the status site; block transitions do not.
        kept: The sites where its results must stay (keep-on-site).
        label: How errors name it.
    """

    ident: str
    options: list[tuple[str, ComputeCostInfo]]
    upstream: list[tuple[str, bool]]
    is_operation: bool = False
    kept: frozenset[str] = frozenset()
    label: str = ""


class CostModel:
    """Looks up compute and send costs, with documented defaults for missing ones."""

    def __init__(self, fed_info: FedInfo, federation: str, logger: logging.Logger) -> None:
        self.fed_info = fed_info
        self.missing: set[tuple[str, str]] = set()
        self._federation = federation
        self._logger = logger

    def send(self, src: str, dst: str) -> SendCostInfo:
        """The cost of sending from ``src`` to ``dst`` (free on the same site)."""
        if src == dst:
            return _FREE
        cost = self.fed_info.sites[src].send_cost.get(dst)
        if cost is None:
            self.missing.add((src, dst))
            return MISSING_SEND_COST
        return cost

    def warn_missing_once(self) -> None:
        """Warn once per federation and process about missing send costs."""
        if not self.missing:
            return
        with _warned_lock:
            if self._federation in _warned_federations:
                return
            _warned_federations.add(self._federation)
        pairs = ", ".join(f"{a}->{b}" for a, b in sorted(self.missing))
        self._logger.warning(
            "Federation %s declares no send cost for %s; using %.0e s per send there "
            "(set send_cost in the federation config to place operations better)",
            self._federation,
            pairs,
            MISSING_SEND_COST.fixed_time,
        )


_FREE = SendCostInfo()


def allowed_sites(
    node: OpNode, fed_info: FedInfo, candidates: list[str]
) -> list[tuple[str, OperationInfo]]:
    """The candidate sites that may run ``node``, with the operation's info on each.

    Raises:
        ValueError: The node is pinned outside the candidates, or no candidate offers it.
    """
    site = node.op.site
    known = list(fed_info.sites)
    if isinstance(site, str):
        tried = [site]
    elif isinstance(site, BestOf) and site.sites is not None:
        tried = list(site.sites)
    else:
        tried = list(candidates)
    unknown = [s for s in tried if s not in fed_info.sites]
    if unknown:
        raise ValueError(
            f"Operation {node.describe()} is pinned to unknown site(s) {unknown}; the "
            f"federation's sites are {known}"
        )
    outside = [s for s in tried if s not in candidates]
    if outside:
        raise ValueError(
            f"Operation {node.describe()} is pinned to site(s) {outside}, which are not among "
            f"the candidate sites {candidates} (see restrict_to_sites)"
        )
    provider = node.op.provider
    found = []
    for s in tried:
        info = fed_info.operation_info(s, node.api_name, provider)
        if info is not None:
            found.append((s, info))
    if not found:
        offering = [s for s in known if fed_info.operation_info(s, node.api_name, provider)]
        where = f"provider {provider!r} of " if provider else ""
        raise ValueError(
            f"Operation {node.describe()} cannot be placed: none of the sites {tried} offers "
            f"{node.api_name} in the interface of {where}the site. Sites offering it: "
            f"{offering or 'none'}"
        )
    return found


def place(
    nodes: list[PlacementNode],
    yields: list[tuple[str, str]],
    fed_info: FedInfo,
    homesite: str,
    model: CostModel,
    operations_of: dict[str, OpNode] | None = None,
) -> Placement:
    """Place every node (given in dependency order) on one of its options.

    Args:
        nodes: The nodes, producers before consumers.
        yields: Every Yield of a node's value, as (how messages name the Yield, the node).
        fed_info: The federation's sites.
        homesite: Where yields go.
        model: The send costs.
        operations_of: The operations among the nodes (for the errors of keep-on-site).

    Raises:
        ValueError: No placement keeps every ``keep_on_site`` value on its site.
    """
    yielded: dict[str, int] = {}
    for _, ident in yields:
        yielded[ident] = yielded.get(ident, 0) + 1
    rank = {s: i for i, s in enumerate(fed_info.sites)}
    by_ident = {n.ident: n for n in nodes}
    cost: dict[str, dict[str, Cost]] = {}

    links: dict[tuple[str, str], SendCostInfo] = {}

    def link(src: str, dst: str) -> SendCostInfo:
        cost_info = links.get((src, dst))
        if cost_info is None:
            cost_info = links[(src, dst)] = model.send(src, dst)
        return cost_info

    def send_time(up: str, src: str, dst: str, size: float, control: bool) -> float:
        if not control and src != dst and src in by_ident[up].kept:
            return _NEVER
        return link(src, dst).time(0.0 if control else size)

    # The forward pass is the compiler's inner loop (nodes × sites × inputs × sites):
    # the edge cost is computed inline.
    for node in nodes:
        mine: dict[str, Cost] = {}
        cost[node.ident] = mine
        for site, compute in node.options:
            in_time, in_size = 0.0, 0.0
            for up, control in node.upstream:
                kept = by_ident[up].kept
                best: Cost | None = None
                for src, (t, s) in cost[up].items():
                    size = 0.0 if control else s
                    if kept and not control and src != site and src in kept:
                        edge = (_NEVER, size)
                    else:
                        edge = (t + link(src, site).time(size), size)
                    if best is None or edge < best:
                        best = edge
                assert best is not None
                in_time, in_size = in_time + best[0], in_size + best[1]
            mine[site] = (in_time + compute.time(in_size), float(compute.size(in_size)))

    def with_yields(ident: str, site: str) -> Cost:
        t, s = cost[ident][site]
        if ident in yielded:
            t += yielded[ident] * send_time(ident, site, homesite, s, False)
        return (t, s)

    chosen: dict[str, str] = {}
    decided: dict[str, dict[str, float]] = {}

    def settle(ident: str, site: str) -> None:
        # Iterative on purpose: a chain of thousands of operations must not hit the
        # recursion limit.
        stack = [(ident, site)]
        while stack:
            node, where = stack.pop()
            if node in chosen:
                continue
            chosen[node] = where
            for up, control in by_ident[node].upstream:
                if up in chosen:
                    continue
                via = {
                    src: with_yields(up, src)[0]
                    + send_time(up, src, where, cost[up][src][1], control)
                    for src in cost[up]
                }
                best = min(cost[up], key=lambda src: (via[src], cost[up][src][1], rank[src]))
                decided[up] = via  # the latest push of `up` is the one popped first
                stack.append((up, best))

    consumed = {up for n in nodes for up, _ in n.upstream}
    sinks = [n.ident for n in nodes if n.ident not in consumed]

    def best_site(ident: str) -> tuple[Cost, str]:
        return min(
            ((with_yields(ident, s), s) for s in cost[ident]),
            key=lambda pair: (pair[0], rank[pair[1]]),
        )

    ranked = sorted(sinks, key=lambda ident: best_site(ident)[0], reverse=True)
    for ident in ranked:
        decided[ident] = {s: with_yields(ident, s)[0] for s in cost[ident]}
        settle(ident, best_site(ident)[1])
    KeepOnSite(nodes, yields, fed_info, homesite, operations_of).enforce(chosen)
    return Placement(
        sites=chosen,
        decided=decided,
        sizes={ident: cost[ident][site][1] for ident, site in chosen.items()},
    )
