"""keep-on-site: a placement never sends a kept value away from its site.

An operation whose binding says ``keep-on-site`` on a site keeps its results there: no
other operation on another site, and no yield to an application on another site, may
receive them. Block transitions that pass a value on (a cache, a fan-out, a gate, an
If's yields) keep what their inputs keep. The cost model already avoids such sends;
this repairs what is left (moving a consumer to the data, else the producer to the
consumer) or refuses the pipeline with a message naming the operation, its site and
the consumer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfm.api import FedInfo

if TYPE_CHECKING:
    from ._nodes import OpNode
    from ._placement import PlacementNode


class KeepOnSite:
    """Repairs, or refuses, a placement that sends a kept value to another site.

    Args:
        nodes: What was placed (operations and block transitions), in dependency order.
        yields: Every Yield of a node's value: (how messages name the Yield, the node).
        fed_info: The federation (to tell "not offered there" from other reasons).
        homesite: Where yields go.
        operations: The operations among the nodes, by ident.
    """

    def __init__(
        self,
        nodes: list[PlacementNode],
        yields: list[tuple[str, str]],
        fed_info: FedInfo,
        homesite: str,
        operations: dict[str, OpNode] | None = None,
    ) -> None:
        self.order = [n.ident for n in nodes]
        self.nodes = {n.ident: n for n in nodes}
        self.allowed = {n.ident: [site for site, _ in n.options] for n in nodes}
        self.kept = {n.ident: set(n.kept) for n in nodes}
        self.data_inputs = {
            n.ident: {up for up, control in n.upstream if not control} for n in nodes
        }
        self.yields = yields
        self.fed_info = fed_info
        self.homesite = homesite
        self.operations = operations or {}

    def _violations(self, chosen: dict[str, str]) -> list[tuple[str, str, str | None]]:
        # (producer, its site, consumer or None for a yield to the application)
        found: list[tuple[str, str, str | None]] = []
        for ident in self.order:
            for up in sorted(self.data_inputs[ident]):
                src = chosen[up]
                if src in self.kept[up] and chosen[ident] != src:
                    found.append((up, src, ident))
        for _, up in self.yields:
            src = chosen[up]
            if src in self.kept[up] and src != self.homesite:
                found.append((up, src, None))
        return found

    def enforce(self, chosen: dict[str, str]) -> None:
        """Move consumers to their kept inputs (else producers to their consumers).

        Raises:
            ValueError: A kept value would still leave its site.
        """
        if not any(self.kept.values()):
            return
        first: tuple[str, str, str | None] | None = None
        for _ in range(len(self.order) * (len(self.allowed) + 2) + 1):
            found = self._violations(chosen)
            if not found:
                return
            producer, site, consumer = found[0]
            first = first or found[0]
            if consumer is not None and site in self.allowed[consumer]:
                chosen[consumer] = site
                continue
            target = chosen[consumer] if consumer is not None else self.homesite
            free = [
                s for s in self.allowed[producer] if s == target or s not in self.kept[producer]
            ]
            if free and chosen[producer] not in free:
                chosen[producer] = target if target in free else free[0]
                continue
            raise ValueError(self._message(producer, site, consumer, chosen))
        assert first is not None
        raise ValueError(self._message(*first, chosen))

    def _message(
        self, producer: str, site: str, consumer: str | None, chosen: dict[str, str]
    ) -> str:
        prod = self.nodes[producer].label or producer
        what = "Operation" if producer in self.operations else "The value of"
        head = f"{what} {prod} keeps its results on site {site!r} (keep-on-site), but "
        if consumer is None:
            yielded = next(y for y, up in self.yields if up == producer)
            return (
                f"{head}{yielded} sends them to the application on homesite "
                f"{self.homesite!r}: yield a result computed from them on {site!r} instead, "
                "or remove keep-on-site from that binding"
            )
        where = chosen[consumer]
        node = self.operations.get(consumer)
        if node is None:
            label = self.nodes[consumer].label or consumer
            return (
                f"{head}{label} needs them on site {where!r}, where it must run. Compute what "
                f"it needs on {site!r} first, or remove keep-on-site from that binding"
            )
        if isinstance(node.op.site, str):
            why = f"{node.describe()} is pinned to {where!r}"
        elif self.fed_info.operation_info(site, node.api_name, node.op.provider) is None:
            provider = f" in provider {node.op.provider!r}" if node.op.provider else ""
            why = f"{site!r} does not offer {node.api_name}{provider}"
        elif site not in self.allowed[consumer]:
            why = f"{site!r} is not among the sites it may run on {self.allowed[consumer]}"
        else:
            why = "it also needs a value that is kept on another site"
        return (
            f"{head}{node.describe()} needs them on site {where!r}: {why}. Run the consumer "
            f"on {site!r} (offer {node.api_name} there) or remove keep-on-site from that binding"
        )
