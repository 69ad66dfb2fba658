from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from dfm.api import BestOf, FedInfo, Pipeline, Yield
from dfm.irgen import prepare


def test_lone_operation_goes_to_the_cheapest_site(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Yield(value=Echo(x=1))
    prepared = prepare(p, fed3, "app", "fed")
    assert prepared.placement == {"node0": "s1"}
    assert prepared.get_participating_sites() == ["s1"]
    assert prepared.status_site == "s1"


def test_status_is_decided_where_frames_end(fed3: FedInfo) -> None:
    """A frame's last report is at most one message from the application, and a job whose
    homesite runs nothing does not need the application's process (reattach)."""
    from irgentestops import Concat, Echo

    with Pipeline() as hop:  # s1 runs more, but every frame ends on s2
        e = Echo(x=1, site="s1")
        Yield(value=Concat(a=Concat(a=e, b="-", site="s1"), b="!", site="s2"))
    assert prepare(hop, fed3, "app", "fed").status_site == "s2"

    with Pipeline() as two_ends:  # ends on s1 and twice on s2; the homesite runs nothing
        e = Echo(x=1, site="s1")
        Yield(value=Concat(a=e, b="!", site="s2"))
        Yield(value=Concat(a=e, b="?", site="s2"), place="other")
        Yield(value=e, place="first")
    prepared = prepare(two_ends, fed3, "app", "fed")
    assert (prepared.status_site, sorted(prepared.net_irs())) == ("s2", ["s1", "s2"])

    with Pipeline() as with_home:  # ends on two sites; the homesite takes part anyway
        e = Echo(x=1, site="app")
        Yield(value=Concat(a=e, b="!", site="s2"))
        Yield(value=e, place="first")
    assert prepare(with_home, fed3, "app", "fed").status_site == "app"


def test_send_cost_keeps_a_chain_together(fed_info_of: Any) -> None:
    from irgentestops import Concat, Echo

    fed = fed_info_of({"app": 5, "s1": 1, "s2": 1.5}, send=1.0)
    with Pipeline() as p:
        e = Echo(x=1, site="s1")
        Yield(value=Concat(a=e, b="!"))
    assert prepare(p, fed, "app", "fed").placement["node1"] == "s1"


def test_cheap_transfer_lets_work_move(fed_info_of: Any) -> None:
    from irgentestops import Concat, Echo

    fed = fed_info_of({"app": 5, "s1": 3, "s2": 1}, send=0.01)
    with Pipeline() as p:
        e = Echo(x=1, site="s1")
        Yield(value=Concat(a=e, b="!"))
    assert prepare(p, fed, "app", "fed").placement == {"node0": "s1", "node1": "s2"}


def test_pins_and_best_of_override_costs(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline() as p:
        e = Echo(x=1, site="app")
        Yield(value=Concat(a=e, site=BestOf(sites=["s2"])))
    assert prepare(p, fed3, "app", "fed").placement == {"node0": "app", "node1": "s2"}


def test_restrict_to_homesite(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Yield(value=Echo(x=1))
    prepared = prepare(p, fed3, "app", "fed", restrict_to_sites="homesite")
    assert prepared.placement == {"node0": "app"}


def test_yield_send_time_counts_fixed_time(fed_info_of: Any) -> None:
    from irgentestops import Echo

    fed = fed_info_of({"app": 5, "s1": 1}, send=100.0)
    with Pipeline() as p:
        Yield(value=Echo(x=1))
    assert prepare(p, fed, "app", "fed").placement == {"node0": "app"}


def test_provider_interface_selects_site(fed_info_of: Any) -> None:
    from irgentestops import Echo

    fed = fed_info_of(
        {"app": 1, "s1": 1},
        extra={"s1": {"providers": {"p1": {"interface": {"ops.Echo": {"operation": "ops.Echo"}}}}}},
    )
    with Pipeline() as p:
        Yield(value=Echo(x=1, provider="p1"))
    prepared = prepare(p, fed, "app", "fed")
    assert prepared.placement == {"node0": "s1"}
    call = prepared.net_irs()["s1"].transitions[0].body[0]
    assert call.provider == "p1"  # type: ignore[attr-defined]


def test_missing_send_costs_warn_once_per_federation(
    caplog: pytest.LogCaptureFixture, fed_info_of: Any
) -> None:
    from irgentestops import Echo

    fed = fed_info_of({"app": 1, "s1": 1}, send=None)
    with Pipeline() as p:
        Yield(value=Echo(x=1))
    with caplog.at_level(logging.WARNING, logger="dfm.irgen"):
        prepare(p, fed, "app", "warnfed")
        prepare(p, fed, "app", "warnfed")
    warnings = [r for r in caplog.records if "declares no send cost" in r.getMessage()]
    assert len(warnings) == 1
    assert "s1->app" in warnings[0].getMessage()


def test_placement_is_the_same_under_any_hash_seed(test_ops: Any) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        from dfm.api import FedInfo, Pipeline, Yield, allow_module_prefix
        from dfm.irgen import prepare
        from irgentestops import Concat, Echo
        site = lambda: {"interface": {o: {"operation": o} for o in ["ops.Echo", "ops.Concat"]}}
        fed = FedInfo.model_validate({"sites": {n: site() for n in ["app", "s1", "s2", "s3"]}})
        with Pipeline() as p:
            e = Echo(x=1)
            Yield(value=Concat(a=e))
            Yield(value=Echo(x=e), place="other")
        print(json.dumps(prepare(p, fed, "app", "fed").placement, sort_keys=True))
        """
    )
    ops_dir = str(test_ops)
    results = set()
    for seed in ("0", "1", "42", "random"):
        out = subprocess.run(
            [sys.executable, "-c", script, ops_dir],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        results.add(out.stdout.strip())
    assert len(results) == 1, results
    assert json.loads(results.pop()) == {"node0": "app", "node1": "app", "node3": "app"}
