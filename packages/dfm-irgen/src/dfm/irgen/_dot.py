"""A picture of a prepared pipeline in Graphviz's DOT language.

Sites are clusters holding the operations placed on them, labelled with the operation
name, the node and the costs the placement compared; token edges between sites are
drawn bold and labelled with the estimated bytes sent; the application's parameters
and yield places stand outside the clusters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dfm.api import START_PLACE_NAME, STATUS_PLACE_NAME, describe_node

from ._ir import NetIR, PlacedOperation, TokenSend, Transition
from ._ir_blocks import BLOCK_OPERATIONS
from ._ir_values import DoneValue, StopValue
from ._lower import STATUS_TRANSITION

if TYPE_CHECKING:
    from ._prepared import PreparedPipeline

_CROSS = 'color="#1f5fbf", fontcolor="#1f5fbf", penwidth=2'


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _seconds(value: float) -> str:
    if math.isinf(value):
        return "∞ (keep-on-site)"
    if value >= 1e5:
        return f"{value:.0e} s"
    if value >= 1:
        return f"{value:.3g} s"
    return f"{value * 1000:.3g} ms"


def _bytes(value: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} B"


def _costs(placed: PlacedOperation) -> list[str]:
    if len(placed.costs) <= 1:  # pinned, or the only site offering it
        return [f"only candidate: {_seconds(t)}" for t in placed.costs.values()]
    ranked = sorted(placed.costs.items(), key=lambda item: item[1])
    return [f"{'▶ ' if site == placed.site else ''}{site}: {_seconds(t)}" for site, t in ranked]


def _node_id(site: str, transition: str) -> str:
    return _quote(f"{site}/{transition}")


# The part of its block a block transition plays, below the block's name.
_BLOCK_PARTS = {"scatter": "elements", "collect": "done", "cache_lookup": "lookup"}


def _transition_label(t: Transition, placed: PlacedOperation | None) -> str:
    if placed is not None:
        lines = [describe_node(placed.operation, placed.node_id), *_costs(placed)]
        if t.guard is not None:
            lines.append(f"with {describe_node('If', t.guard.node_id)}")
        return "\n".join(lines)
    if t.block is not None:
        part = _BLOCK_PARTS.get(t.block.kind)
        name = describe_node(BLOCK_OPERATIONS[t.block.kind], t.node_id)
        return f"{name}\n{part}" if part else name
    yields = [s.place for s in t.sends if s.is_yield]
    return f"Yield to {', '.join(yields)}" if yields else t.name


def _selector(send: TokenSend) -> str:
    sel = getattr(send.data, "sel", None)
    return "" if sel is None else f"[{sel!r}]"


def _edges_of(
    site: str,
    t: Transition,
    inputs_at: dict[tuple[str, str], str],
    sizes: dict[str, float],
) -> Iterable[str]:
    source = _node_id(site, t.name)
    for send in t.sends:
        if isinstance(send.data, DoneValue | StopValue):
            continue  # the status bookkeeping: not a data flow worth drawing
        if send.is_yield:
            target, cross = _quote(f"yield:{send.place}"), True
        else:
            owner = inputs_at.get((send.site, send.place))
            if owner is None or owner == STATUS_TRANSITION:
                continue
            target, cross = _node_id(send.site, owner), send.site != site
        attributes = []
        label = _selector(send)
        if send.kind == "control":
            attributes.append("style=dashed")
        if cross and send.kind == "data":
            size = sizes.get(t.name)
            label = " ".join(p for p in (label, _bytes(size) if size is not None else "") if p)
            attributes.append(_CROSS)
        if label:
            attributes.append(f"label={_quote(label)}")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        yield f"  {source} -> {target}{suffix};"


def _cluster(site: str, net: NetIR, prepared: PreparedPipeline) -> list[str]:
    roles = [
        r
        for r, yes in (
            ("homesite", site == prepared.homesite),
            ("status", site == prepared.status_site),
        )
        if yes
    ]
    title = site + (f" ({', '.join(roles)})" if roles else "")
    lines = [
        f"  subgraph {_quote('cluster_' + site)} {{",
        f"    label={_quote(title)};",
        '    style="rounded,filled"; fillcolor="#f3f3f3"; color="#999999";',
    ]
    for t in net.transitions:
        if t.name == STATUS_TRANSITION:
            continue
        placed = prepared.placement_details.get(t.name)
        label = _transition_label(t, placed)
        lines.append(f"    {_node_id(site, t.name)} [label={_quote(label)}];")
    lines.append("  }")
    return lines


def to_dot(prepared: PreparedPipeline) -> str:
    """The DOT source of a picture of ``prepared``; see :meth:`PreparedPipeline.to_dot`."""
    nets = prepared.net_irs()
    name = prepared.pipeline_name or "(unnamed)"
    title = f"pipeline {name} of {prepared.federation_name}, homesite {prepared.homesite}"
    lines = [
        "digraph pipeline {",
        f"  label={_quote(title)}; labelloc=t; fontname=Helvetica;",
        "  rankdir=LR; compound=true;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname=Helvetica,'
        " fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    inputs_at: dict[tuple[str, str], str] = {}
    for site, net in nets.items():
        for t in net.transitions:
            for inplace in t.inputs:
                inputs_at[(site, inplace.name)] = t.name
    for site in sorted(nets):
        lines += _cluster(site, nets[site], prepared)
    params = sorted({e for net in nets.values() for e in net.external} - {START_PLACE_NAME})
    for param in params:
        lines.append(
            f"  {_quote('param:' + param)} [label={_quote(param)}, shape=ellipse, "
            'fillcolor="#fff4d6"];'
        )
    for site, net in sorted(nets.items()):
        for param in params:
            for place in net.external.get(param, []):
                owner = inputs_at.get((site, place))
                if owner is not None:
                    lines.append(f"  {_quote('param:' + param)} -> {_node_id(site, owner)};")
    yields = sorted(p.place for p in prepared.yield_places if p.place != STATUS_PLACE_NAME)
    for place in yields:
        lines.append(
            f"  {_quote('yield:' + place)} [label={_quote(place)}, shape=note, "
            'fillcolor="#e3f2df"];'
        )
    sizes = {ident: placed.output_size for ident, placed in prepared.placement_details.items()}
    for site, net in sorted(nets.items()):
        for t in net.transitions:
            lines.extend(_edges_of(site, t, inputs_at, sizes))
    lines.append("}")
    return "\n".join(lines) + "\n"
