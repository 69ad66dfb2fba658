"""keep-on-site: a placement never sends a kept value away from its site.

An operation whose binding says ``keep-on-site`` on a site keeps its results there: no
other operation on another site, and no yield to an application on another site, may
receive them. The cost model already avoids such sends; this repairs what is left
(moving a consumer to the data, else the producer to the consumer) or refuses the
pipeline with a message naming the operation, its site and the consumer.
"""

from __future__ import annotations

from dfm.api import FedInfo, OperationInfo

from ._graph import LogicalGraph


class KeepOnSite:
    """Repairs, or refuses, a placement that sends a kept value to another site.

    Args:
        graph: The pipeline's logical graph.
        fed_info: The federation (to tell "not offered there" from other reasons).
        homesite: Where yields go.
        options: Per operation, the sites it may run on and its info there.
        kept: Per operation, the sites where its results are kept.
        data_inputs: Per operation, the operations whose values it takes.
    """

    def __init__(
        self,
        graph: LogicalGraph,
        fed_info: FedInfo,
        homesite: str,
        options: dict[str, list[tuple[str, OperationInfo]]],
        kept: dict[str, set[str]],
        data_inputs: dict[str, set[str]],
    ) -> None:
        self.graph = graph
        self.fed_info = fed_info
        self.homesite = homesite
        self.allowed = {ident: [site for site, _ in found] for ident, found in options.items()}
        self.kept = kept
        self.data_inputs = data_inputs

    def _violations(self, chosen: dict[str, str]) -> list[tuple[str, str, str | None]]:
        # (producer, its site, consumer op or None for a yield to the application)
        found: list[tuple[str, str, str | None]] = []
        for ident in self.graph.order:
            for up in sorted(self.data_inputs[ident]):
                src = chosen[up]
                if src in self.kept[up] and chosen[ident] != src:
                    found.append((up, src, ident))
        for y in self.graph.yields:
            if y.ref is not None:
                up = y.ref.id.as_identifier()
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
        for _ in range(len(self.graph.order) * (len(self.allowed) + 2) + 1):
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
        prod = self.graph.ops[producer].describe()
        head = f"Operation {prod} keeps its results on site {site!r} (keep-on-site), but "
        if consumer is None:
            yields = [
                y
                for y in self.graph.yields
                if y.ref is not None and y.ref.id.as_identifier() == producer
            ]
            return (
                f"{head}Yield {yields[0].stmt.dfm_node_id} sends them to the application on "
                f"homesite {self.homesite!r}: yield a result computed from them on {site!r} "
                "instead, or remove keep-on-site from that binding"
            )
        node = self.graph.ops[consumer]
        where = chosen[consumer]
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
