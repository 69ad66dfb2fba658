"""Placement: choose, for every operation, the candidate site where it costs least.

Costs are pairs (time, size) compared lexicographically. The cost of an operation on a
site is the sum over its inputs of the cheapest way to get each input there (producer
cost plus send time), plus its compute time on that input size. Sinks are placed
first, most expensive first, on their cheapest site; their inputs are then placed
backwards, each on the site that gets its value to the consumer cheapest, keeping any
placement already made. Ties go to the site listed first in fed_info, so placement is
the same in every process.

Results of an operation that keeps them on its site (``keep_on_site`` in fed_info) may
not be sent to another site: such a send costs infinitely much, so consumers are placed
where the data is whenever that is possible. A placement that still sends such a value
away is repaired (the consumer moves to the data, else the producer to the consumer)
or refused with an error naming the operation, its site and the consumer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from dfm.api import BestOf, FedInfo, OperationInfo, SendCostInfo

from ._graph import LogicalGraph, OpNode
from ._keep_on_site import KeepOnSite

MISSING_SEND_COST = SendCostInfo(fixed_time=1e6, bandwidth=None)
"""Used between two sites when fed_info gives no send cost: 10^6 s, so that sending
where no cost was declared is a last resort."""

_warned_lock = threading.Lock()
_warned_federations: set[str] = set()

Cost = tuple[float, float]
_NEVER = float("inf")


@dataclass(frozen=True)
class Placement:
    """Where each operation runs, and which site reports the status of each frame."""

    sites: dict[str, str]
    status_site: str


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
    graph: LogicalGraph,
    fed_info: FedInfo,
    homesite: str,
    candidates: list[str],
    model: CostModel,
) -> Placement:
    """Place every operation of ``graph`` on one of its allowed candidate sites.

    Raises:
        ValueError: No placement keeps every ``keep_on_site`` value on its site.
    """
    options = {
        ident: allowed_sites(graph.ops[ident], fed_info, candidates) for ident in graph.order
    }
    kept = {
        ident: {site for site, info in found if info.keep_on_site}
        for ident, found in options.items()
    }
    data_inputs = {ident: _data_inputs(graph.ops[ident]) for ident in graph.order}
    rank = {s: i for i, s in enumerate(fed_info.sites)}

    def send_time(up: str, src: str, dst: str, size: float, data: bool) -> float:
        if data and src != dst and src in kept[up]:
            return _NEVER
        return model.send(src, dst).time(size)

    cost: dict[str, dict[str, Cost]] = {}
    for ident in graph.order:
        node = graph.ops[ident]
        cost[ident] = {}
        for site, info in options[ident]:
            in_time, in_size = 0.0, 0.0
            for up in node.upstream():
                data = up in data_inputs[ident]
                t, s = min(
                    (c[0] + send_time(up, src, site, c[1], data), c[1])
                    for src, c in cost[up].items()
                )
                in_time, in_size = in_time + t, in_size + s
            compute = info.compute_cost
            cost[ident][site] = (in_time + compute.time(in_size), float(compute.size(in_size)))

    yielded: dict[str, int] = {}
    for y in graph.yields:
        if y.ref is not None:
            key = y.ref.id.as_identifier()
            yielded[key] = yielded.get(key, 0) + 1

    def with_yields(ident: str, site: str) -> Cost:
        t, s = cost[ident][site]
        if ident in yielded:
            t += yielded[ident] * send_time(ident, site, homesite, s, True)
        return (t, s)

    chosen: dict[str, str] = {}

    def settle(ident: str, site: str) -> None:
        # Iterative on purpose: a chain of thousands of operations must not hit the
        # recursion limit.
        stack = [(ident, site)]
        while stack:
            node, where = stack.pop()
            if node in chosen:
                continue
            chosen[node] = where
            for up in graph.ops[node].upstream():
                if up in chosen:
                    continue
                data = up in data_inputs[node]
                best = min(
                    cost[up],
                    key=lambda src: (
                        with_yields(up, src)[0] + send_time(up, src, where, cost[up][src][1], data),
                        cost[up][src][1],
                        rank[src],
                    ),
                )
                stack.append((up, best))

    consumers = graph.consumers()
    sinks = [ident for ident in graph.order if not consumers[ident]]

    def best_site(ident: str) -> tuple[Cost, str]:
        return min(
            ((with_yields(ident, s), s) for s in cost[ident]),
            key=lambda pair: (pair[0], rank[pair[1]]),
        )

    ranked = sorted(sinks, key=lambda ident: best_site(ident)[0], reverse=True)
    for ident in ranked:
        settle(ident, best_site(ident)[1])
    KeepOnSite(graph, fed_info, homesite, options, kept, data_inputs).enforce(chosen)
    return Placement(sites=chosen, status_site=_status_site(chosen, homesite))


def _data_inputs(node: OpNode) -> set[str]:
    return {ref.id.as_identifier() for ref in node.refs.values()}


def _status_site(chosen: dict[str, str], homesite: str) -> str:
    """The homesite if it runs anything (or nothing runs), else the busiest site."""
    counts: dict[str, int] = {}
    for site in chosen.values():
        counts[site] = counts.get(site, 0) + 1
    if not counts or homesite in counts:
        return homesite
    return min(counts, key=lambda s: (-counts[s], s))
