"""PreparedPipeline.placement_details and to_dot(): the placement as data and as a picture."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from dfm.api import FedInfo, Pipeline, PlaceParam, Yield
from dfm.irgen import PreparedPipeline, prepare


def chain(fed: FedInfo) -> PreparedPipeline:
    from irgentestops import Concat, Echo

    with Pipeline(name="chain") as p:
        e = Echo(x=PlaceParam(place="who"), site="s2")
        c = Concat(a=e, b="!")
        Yield(value=c, place="out")
        Yield(value=e, place="raw")
    return prepare(p, fed, "app", "fed")


def test_details_name_the_operation_and_the_costs_that_decided(fed3: FedInfo) -> None:
    prepared = chain(fed3)
    echo, concat = prepared.placement_details["node0"], prepared.placement_details["node1"]
    assert (echo.operation, echo.node_id, echo.site) == ("ops.Echo", 0, "s2")
    assert list(echo.costs) == ["s2"]  # pinned: one candidate
    assert concat.operation == "ops.Concat" and concat.site == prepared.placement["node1"]
    assert set(concat.costs) == {"app", "s1", "s2"}
    # the chosen site is the cheapest of those compared
    assert concat.costs[concat.site] == min(concat.costs.values())
    # input on s2 (2 s), then: send 1 s unless on s2, compute, and the yield's send to app
    assert concat.costs == {"app": 2 + 1 + 5, "s1": 2 + 1 + 1 + 1, "s2": 2 + 2 + 1}


def test_details_survive_json(fed3: FedInfo) -> None:
    prepared = chain(fed3)
    again = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert again.placement_details == prepared.placement_details
    assert again.to_dot() == prepared.to_dot()


def test_infinite_costs_survive_json_and_read_well(fed3: FedInfo) -> None:
    from dfm.irgen import PlacedOperation

    prepared = chain(fed3)
    kept = PlacedOperation(operation="ops.Echo", node_id=0, site="s1", costs={"s1": 1.0})
    kept = kept.model_copy(update={"costs": {"s1": 1.0, "app": float("inf")}})
    prepared = prepared.model_copy(update={"placement_details": {"node0": kept}})
    again = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert again.placement_details["node0"].costs == {"s1": 1.0, "app": float("inf")}
    assert "app: ∞ (keep-on-site)" in again.to_dot()


def test_dot_has_sites_as_clusters_operations_and_cross_site_edges(fed_info_of: Any) -> None:
    from irgentestops import Concat, Echo

    fed = fed_info_of({"app": 5, "s1": 3, "s2": 1}, send=0.01)
    with Pipeline(name='say "hi"') as p:
        a = Echo(x=PlaceParam(place="who"), site="s1")
        Yield(value=Concat(a=a, b="!")["x"], place="out")
    dot = prepare(p, fed, "app", "fed").to_dot()
    assert dot.startswith("digraph pipeline {") and dot.rstrip().endswith("}")
    assert '"cluster_s1"' in dot and '"cluster_s2"' in dot
    assert 'label="pipeline say \\"hi\\" of fed, homesite app"' in dot  # quotes escaped
    assert re.search(r'"s1/node0" \[label="ops.Echo \(node 0\)\\nonly candidate: ', dot)
    assert re.search(r'"s2/node1" \[label="ops.Concat \(node 1\)\\n▶ s2: ', dot)
    # parameter → operation, operation → operation across sites, → yield place
    assert '"param:who" -> "s1/node0";' in dot
    cross = re.search(r'"s1/node0" -> "s2/node1" \[([^]]*)\];', dot)
    assert cross and "penwidth=2" in cross.group(1)
    assert re.search(r"\"s2/node1\" -> \"yield:out\" \[.*label=\"\['x'\]", dot)
    assert "_status_" not in dot and "_dfm_status_" not in dot  # bookkeeping is not drawn


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_renders_it(fed3: FedInfo) -> None:
    done = subprocess.run(
        ["dot", "-Tsvg"], input=chain(fed3).to_dot(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout and "ops.Concat" in done.stdout
