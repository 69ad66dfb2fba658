"""keep-on-site, the site's own check: a kept value never leaves, whatever the NetIR says.

The compiler places every consumer of a ``keep-on-site`` operation's result on the same
site; this is the second line of defence on the site itself. A value is *kept* if it is
the result of a kept operation on this site (or a part of it, by selection), or what a
place of this site holds when a kept value was sent there. Values computed *from* a kept
value by another operation (an aggregate, say) are not kept: that is what the site lets
out. A NetIR that would send a kept value to another site, or yield it to an
application on another site, is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dfm.irgen import NetIR, TokenSend, Transition


def operation_key(call: Any) -> str:
    """How KEEP_ON_SITE names a call's operation: ``op``, or ``provider:op``."""
    provider = getattr(call, "provider", None)
    return f"{provider}:{call.adapter}" if provider else str(call.adapter)


def _kept_statements(t: Transition, keep: frozenset[str]) -> dict[str, Any]:
    return {
        stmt.stmt_id: stmt
        for stmt in t.body
        if hasattr(stmt, "adapter") and hasattr(stmt, "stmt_id") and operation_key(stmt) in keep
    }


def _carried(
    t: Transition, send: TokenSend, kept: dict[str, Any], places: dict[str, str]
) -> str | None:
    """The kept operation whose value ``send`` carries, if any."""
    data = send.data
    stmt_id = getattr(data, "stmt_id", None)
    if stmt_id is not None and stmt_id in kept:
        return operation_key(kept[stmt_id])
    place = getattr(data, "place", None)
    if place is not None and any(p.name == place for p in t.inputs):
        return places.get(place)
    if t.block is not None and data.kind in ("elements", "result"):
        # A block passes on what it was given (a ForEach's elements, a collected or
        # cached value): kept if any of its inputs holds a kept value.
        return next((places[p.name] for p in t.inputs if p.name in places), None)
    return None


def _sends(netir: NetIR) -> Iterator[tuple[Transition, TokenSend]]:
    for t in netir.transitions:
        for send in t.sends:
            yield t, send


def check_keep_on_site(netir: NetIR, keep: frozenset[str]) -> None:
    """Refuse a NetIR that would let a value of a ``keep`` operation leave this site.

    Raises:
        NetIRRefused: Naming the operation, the site and the consumer it would reach.
    """
    if not keep:
        return
    site = netir.site
    kept = {t.name: _kept_statements(t, keep) for t in netir.transitions}
    if not any(kept.values()):
        return
    from .codegen import NetIRRefused  # codegen (and dfm.irgen) load with the first job

    # Places of this site that receive a kept value; grows until nothing changes.
    places: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for t, send in _sends(netir):
            if send.is_yield or send.site != site or send.place in places:
                continue
            operation = _carried(t, send, kept[t.name], places)
            if operation is not None:
                places[send.place] = operation
                changed = True
    for t, send in _sends(netir):
        operation = _carried(t, send, kept[t.name], places)
        if operation is None:
            continue
        if send.is_yield and netir.homesite != site:
            consumer = f"the application on site {netir.homesite!r} (yield place {send.place!r})"
        elif not send.is_yield and send.site != site:
            consumer = f"place {send.place!r} on site {send.site!r}"
        else:
            continue
        raise NetIRRefused(
            site,
            f"transition {t.name!r}",
            f"the result of operation {operation!r} is kept on site {site!r} (keep-on-site), "
            f"but this NetIR sends it to {consumer}; place that consumer on {site!r} or "
            "send it a value computed from the result instead",
        )
