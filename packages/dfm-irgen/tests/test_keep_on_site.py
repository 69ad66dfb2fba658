"""keep-on-site: results marked so never leave their site (issue 6, item 7, compiler side).

``prepare()`` places every consumer of such a value on its site when it can, and
refuses a placement that would send it elsewhere, naming the operation, the site and
the consumer that needed it.
"""

from __future__ import annotations

from typing import Any

import pytest

from dfm.api import BestOf, FedInfo, Pipeline, Yield
from dfm.irgen import StmtValue, prepare


def _fed(
    costs: dict[str, dict[str, float]],
    keep: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    send: float = 1.0,
    providers: dict[str, dict[str, Any]] | None = None,
) -> FedInfo:
    """Sites → {operation: fixed compute time}; ``keep`` holds (site, operation) pairs."""
    sites: dict[str, Any] = {}
    for site, ops in costs.items():
        sites[site] = {
            "interface": {
                op: {
                    "operation": op,
                    "compute_cost": {"fixed_time": t},
                    "keep_on_site": (site, op) in keep,
                }
                for op, t in ops.items()
            },
            "send_cost": {other: {"fixed_time": send} for other in costs if other != site},
        }
        if providers and site in providers:
            sites[site]["providers"] = providers[site]
    return FedInfo.model_validate({"sites": sites})


def _data_sends(prepared: Any) -> list[tuple[str, str, str]]:
    """(from site, producing transition, to site) of every data send of a value."""
    out = []
    for site, net in prepared.net_irs().items():
        for t in net.transitions:
            for send in t.sends:
                if isinstance(send.data, StmtValue) and send.kind == "data":
                    out.append((site, t.name, send.site))
    return out


def test_consumer_moves_to_where_the_data_is() -> None:
    from irgentestops import Concat, Echo

    costs = {"app": {"ops.Concat": 0.1}, "h": {"ops.Echo": 1, "ops.Concat": 5}}
    with Pipeline() as p:
        Yield(value=Concat(a=Echo(x=1)))
    free = prepare(p, _fed(costs), "app", "fed")
    assert free.placement == {"node0": "h", "node1": "app"}  # cheaper without the rule
    kept = prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    assert kept.placement == {"node0": "h", "node1": "h"}
    assert ("h", "node0", "app") not in _data_sends(kept)


def test_a_producer_with_a_free_site_goes_there_instead() -> None:
    from irgentestops import Concat, Echo

    # Echo's results are kept on h but not on s; Concat only runs on app.
    costs = {"app": {"ops.Concat": 1}, "h": {"ops.Echo": 1}, "s": {"ops.Echo": 3}}
    with Pipeline() as p:
        Yield(value=Concat(a=Echo(x=1)))
    prepared = prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    assert prepared.placement == {"node0": "s", "node1": "app"}


def test_yield_to_another_site_is_refused() -> None:
    from irgentestops import Echo

    costs = {"app": {}, "h": {"ops.Echo": 1}}
    with Pipeline() as p:
        Yield(value=Echo(x=1))
    with pytest.raises(ValueError) as info:
        prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    message = str(info.value)
    assert "ops.Echo (node 0)" in message and "'h'" in message and "keep-on-site" in message
    assert "Yield (node 1)" in message and "application on homesite 'app'" in message


def test_yield_at_the_homesite_itself_is_fine() -> None:
    from irgentestops import Echo

    costs = {"app": {"ops.Echo": 1}, "h": {"ops.Echo": 0.1}}
    with Pipeline() as p:
        Yield(value=Echo(x=1))
    prepared = prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    assert prepared.placement == {"node0": "app"}


def test_consumer_that_cannot_run_there_is_refused_with_names() -> None:
    from irgentestops import Concat, Echo

    costs = {"app": {"ops.Concat": 1}, "h": {"ops.Echo": 1}}
    with Pipeline() as p:
        Yield(value=Concat(a=Echo(x=1)["k"]))
    with pytest.raises(ValueError) as info:
        prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    message = str(info.value)
    assert message.startswith(
        "Operation ops.Echo (node 0) keeps its results on site 'h' (keep-on-site), but "
        "ops.Concat (node 1) needs them on site 'app'"
    )
    assert "'h' does not offer ops.Concat" in message


def test_pinned_consumer_is_refused() -> None:
    from irgentestops import Concat, Echo

    costs = {"app": {"ops.Concat": 1}, "h": {"ops.Echo": 1, "ops.Concat": 1}}
    with Pipeline() as p:
        Yield(value=Concat(a=Echo(x=1), site="app"))
    with pytest.raises(ValueError, match=r"ops.Concat \(node 1\) needs them on site 'app'.*pinned"):
        prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")


def test_fan_out_places_every_consumer_with_the_data() -> None:
    from irgentestops import Concat, Echo

    costs = {"app": {"ops.Concat": 0.1}, "h": {"ops.Echo": 1, "ops.Concat": 5}}
    with Pipeline() as p:
        e = Echo(x=1)
        Yield(value=Concat(a=e, b="1"), place="one")
        Yield(value=Concat(a=e["k"], b="2"), place="two")
        c3 = Concat(a=e, b="3")
        Yield(value=Concat(a=c3, b="4"), place="four")
    prepared = prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    assert prepared.placement["node0"] == "h"
    for consumer in ("node1", "node3", "node5"):
        assert prepared.placement[consumer] == "h"
    assert prepared.placement["node6"] == "app"  # c3's results are not kept: they may move
    assert all(src_t != "node0" or dst == "h" for _, src_t, dst in _data_sends(prepared))


def test_ordering_without_data_may_cross_sites() -> None:
    from irgentestops import Concat, Echo

    costs = {"app": {"ops.Concat": 1}, "h": {"ops.Echo": 1}}
    with Pipeline() as p:
        e = Echo(x=1)
        Yield(value=Concat(a="x", dfm_after=e))
    prepared = prepare(p, _fed(costs, keep={("h", "ops.Echo")}), "app", "fed")
    assert prepared.placement == {"node0": "h", "node1": "app"}


def test_provider_entries_keep_their_results_too() -> None:
    from irgentestops import Concat, Echo

    providers = {
        "h": {"vault": {"interface": {"ops.Echo": {"operation": "ops.Echo", "keep_on_site": True}}}}
    }
    costs = {"app": {"ops.Concat": 0.1}, "h": {"ops.Concat": 5}}
    with Pipeline() as p:
        Yield(value=Concat(a=Echo(x=1, provider="vault")))
    prepared = prepare(p, _fed(costs, providers=providers), "app", "fed")
    assert prepared.placement == {"node0": "h", "node1": "h"}


def test_conflicting_kept_inputs_are_refused() -> None:
    from irgentestops import Concat, Echo

    costs = {"app": {}, "h1": {"ops.Echo": 1, "ops.Concat": 1}, "h2": {"ops.Echo": 1}}
    with Pipeline() as p:
        a = Echo(x=1, site="h1")
        b = Echo(x=2, site="h2")
        Concat(a=a, b=b, site=BestOf(sites=["h1"]))
    keep = {("h1", "ops.Echo"), ("h2", "ops.Echo")}
    with pytest.raises(ValueError, match=r"ops.Echo \(node 1\) keeps its results on site 'h2'"):
        prepare(p, _fed(costs, keep=keep), "h1", "fed")


def test_kept_values_stay_on_their_site_through_blocks() -> None:
    from irgentestops import Concat, Echo

    from dfm.api import ForEach, If, PlaceParam, TryFromCache

    costs = {
        "app": {"ops.Concat": 0.1, "ops.Echo": 5},
        "h": {"ops.Echo": 1, "ops.Concat": 5},
    }
    fed = _fed(costs, keep={("h", "ops.Echo")})
    with Pipeline() as p:
        rows = Echo(x=PlaceParam(place="rows"), site="h")
        with ForEach(seq=rows) as row:  # the elements are parts of a kept value
            Yield(value=Concat(a=row["name"]), place="name")
        with If(cond=rows):  # so is what an If yields
            with TryFromCache(key="k") as cached:
                cached.cache(Concat(a=rows))
    prepared = prepare(p, fed, "app", "fed")
    assert prepared.placement["node2"] == "h"  # moved to the data, though dearer there
    with Pipeline() as p:
        rows = Echo(x=PlaceParam(place="rows"), site="h")
        with ForEach(seq=rows) as row:
            Yield(value=row, place="raw")
    with pytest.raises(ValueError, match=r"keeps its results on site 'h' \(keep-on-site\)"):
        prepare(p, fed, "app", "fed")
