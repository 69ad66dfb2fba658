"""Lowering of ForEach, If and TryFromCache: the transitions, their depths and links."""

from __future__ import annotations

from typing import Any

import pytest

from dfm.api import (
    And,
    BestOf,
    Equal,
    FedInfo,
    ForEach,
    GreaterThan,
    If,
    Not,
    Pipeline,
    PlaceParam,
    TryFromCache,
    WriteToCache,
    Yield,
    well_known_id,
)
from dfm.irgen import (
    AckValue,
    AdapterCall,
    CacheLookup,
    CacheWrite,
    CondAnd,
    CondCompare,
    Condition,
    CondNot,
    CondTruth,
    DoneValue,
    ElementValue,
    FanOut,
    LiteralValue,
    NetIR,
    PlaceValue,
    PreparedPipeline,
    ResultValue,
    Transition,
    prepare,
)


def _net(prepared: PreparedPipeline) -> dict[str, Transition]:
    """Every transition of every site, by name."""
    return {t.name: t for net in prepared.net_irs().values() for t in net.transitions}


def _site_of(prepared: PreparedPipeline) -> dict[str, str]:
    return {t.name: s for s, net in prepared.net_irs().items() for t in net.transitions}


def _shape(t: Transition) -> tuple[Any, ...]:
    """(kind, depth, inputs with depths, sends as site/place/data kind)."""
    return (
        t.block.kind if t.block else None,
        t.depth,
        [(p.name, p.depth) for p in t.inputs],
        [(s.site, s.place, s.data.kind) for s in t.sends],
    )


def test_for_each_across_two_sites_is_the_documented_net(fed3: FedInfo) -> None:
    # The worked example of docs/internals.md.
    from irgentestops import Concat, Echo

    with Pipeline(name="squares") as p:
        numbers = Echo(x=PlaceParam(place="n"), site="s1")
        with ForEach(seq=numbers) as x:
            Yield(value=Concat(a=x, site="s2"), place="sq")
    prepared = prepare(p, fed3, "app", "fed")
    assert sorted(prepared.net_irs()) == ["s1", "s2"]
    # Every frame ends on s2 (the collect), so s2 decides the status: no report back to s1.
    assert prepared.status_site == "s2"
    assert prepared.placement == {"node0": "s1", "node1": "s1", "node2": "s2"}
    net = _net(prepared)
    assert _site_of(prepared) == {
        "node0": "s1",
        "node1": "s1",
        "_status_": "s2",
        "node1__collect": "s2",
        "node2": "s2",
        "node1__scatter_s2": "s2",
    }
    assert _shape(net["node0"]) == (None, 0, [("node0__x", 0)], [("s1", "node1__seq", "stmt")])
    assert _shape(net["node1"]) == (
        "fan_out",
        0,
        [("node1__seq", 0)],
        [("s2", "node1__elements_s2", "elements"), ("s2", "node1__collect__outcome", "done")],
    )
    assert net["node1"].block == FanOut(seq="node1__seq")
    assert _shape(net["node1__scatter_s2"]) == (
        "scatter",
        1,
        [("node1__elements_s2", 0)],
        [("s2", "node2__a", "result")],
    )
    assert _shape(net["node2"]) == (
        None,
        1,
        [("node2__a", 1)],
        [("app", "sq", "stmt"), ("s2", "_done_s2_node2", "done")],
    )
    assert _shape(net["node1__collect"]) == (
        "collect",
        0,
        [("node1__collect__outcome", 0), ("_done_s2_node2", 1)],
        [("s2", "_done_s2_node1__collect", "done")],
    )
    assert _shape(net["_status_"])[2] == [("_done_s2_node1__collect", 0)]


def test_nested_for_each_goes_one_level_deeper_and_collects_chain(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline() as p:
        rows = Echo(x=PlaceParam(place="rows"), site="s1")
        with ForEach(seq=rows) as row:
            with ForEach(seq=row) as cell:
                Yield(value=Concat(a=row["name"], b=cell, site="s1"))
    net = _net(prepare(p, fed3, "app", "fed"))
    inner, outer = net["node2"], net["node1"]
    assert (outer.depth, inner.depth, net["node3"].depth) == (0, 1, 2)
    # The inner sequence is the outer element: a scatter feeds the inner fan-out.
    assert [(i.name, i.depth) for i in inner.inputs] == [("node2__seq", 1)]
    assert {(i.name, i.depth) for i in net["node3"].inputs} == {("node3__a", 1), ("node3__b", 2)}
    assert [s.data for s in net["node1__scatter_s1"].sends if s.place == "node3__a"] == [
        ResultValue(sel="name")
    ]
    # The inner collect reports each outer element to the outer collect.
    assert [(i.name, i.depth) for i in net["node1__collect"].inputs] == [
        ("node1__collect__outcome", 0),
        ("_done_s1_node2__collect", 1),
    ]
    assert net["node2__collect"].depth == 1
    assert ("_done_s1_node3", 2) in [(i.name, i.depth) for i in net["node2__collect"].inputs]


def test_sequential_for_each_waits_for_acks(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        items = Echo(x=PlaceParam(place="items"), site="s1")
        with ForEach(seq=items, sequential=True) as item:
            Yield(value=Echo(x=item, site="s2"))
    net = _net(prepare(p, fed3, "app", "fed"))
    assert net["node1"].block == FanOut(seq="node1__seq", sequential=True, ack="node1__ack")
    assert ("node1__ack", 1) in [(i.name, i.depth) for i in net["node1"].inputs]
    acks = [s for s in net["node1__collect"].sends if isinstance(s.data, AckValue)]
    assert [(s.site, s.place) for s in acks] == [("s1", "node1__ack")]


def test_for_each_over_a_parameter_and_over_a_generator(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        with ForEach(seq=PlaceParam(place="xs")) as x:
            Yield(value=Echo(x=x, site="s2"))
        gen = Echo(x=3, site="s1")
        with ForEach(seq=gen) as g:
            Yield(value=Echo(x=g, site="s1"), place="g")
        Yield(value=gen, place="whole")
    prepared = prepare(p, fed3, "app", "fed")
    net = _net(prepared)
    assert net["node0"].block == FanOut(seq="node0__seq")
    assert prepared.net_irs()[_site_of(prepared)["node0"]].external["xs"] == ["node0__seq"]
    call = net["node3"].body[0]
    assert isinstance(call, AdapterCall) and call.stream
    # The generator goes, by reference, only to the fan-out; the whole value yielded
    # elsewhere is the list the fan-out collected.
    assert [(s.site, s.place) for s in net["node3"].sends] == [("s1", "node4__seq")]
    whole = [s for s in net["node4"].sends if s.place == "whole"]
    assert len(whole) == 1 and whole[0].is_yield and whole[0].data == ResultValue()
    assert [type(s.data) for s in net["node4"].sends] == [
        ElementValue,
        ResultValue,
        DoneValue,
    ]


def test_if_condition_is_a_tree_of_inputs_and_literals(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline() as p:
        e = Echo(x=PlaceParam(place="n"), site="s1")
        cond = And(
            exp=[
                GreaterThan(left=e["v"], right=3),
                Not(exp=Equal(left=e, right=PlaceParam(place="m"))),
            ]
        )
        with If(cond=cond):
            c = Concat(a="lit", site="s2")
            Yield(value=c)
            Yield(value=Concat(a=c, site="s2"), place="second")
            Yield(value=e, place="e")
            Yield(value=5, place="five")
    prepared = prepare(p, fed3, "app", "fed")
    net = _net(prepared)
    k = net["node1"]
    assert k.block == Condition(
        expr=CondAnd(
            exp=[
                CondCompare(
                    op=">",
                    left=PlaceValue(place="node1__in0"),
                    right=LiteralValue(value=("json", 3)),
                ),
                CondNot(
                    exp=CondCompare(
                        op="==",
                        left=PlaceValue(place="node1__in1"),
                        right=PlaceValue(place="node1__in2"),
                    )
                ),
            ]
        )
    )
    assert [s.data for s in net["node0"].sends if s.place == "node1__in0"][0].sel == "v"  # type: ignore[union-attr]
    assert prepared.net_irs()["s1"].external["m"] == ["node1__in2"]
    # The body's entry gets the condition's control; what depends on it inside the body
    # gets the skip through its data, and no control of its own.
    assert ("node2__ctl", 0) in [(i.name, i.depth) for i in net["node2"].inputs]
    assert [i.name for i in net["node4"].inputs] == ["node4__a"]
    # Yields of values from outside the body (and of literals) are the condition's own.
    gated = [(s.place, s.data) for s in k.sends if s.is_yield]
    assert [s.node_id for s in k.sends if s.is_yield] == [0, None]  # as direct yields
    assert gated == [
        ("e", PlaceValue(place="node1__in1")),
        ("five", LiteralValue(value=("json", 5))),
    ]
    assert isinstance(k.sends[-1].data, DoneValue)


def test_if_inside_for_each_reads_the_element(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        items = Echo(x=PlaceParam(place="items"), site="s1")
        with ForEach(seq=items) as item:
            with If(cond=item["ok"]):
                Yield(value=Echo(x=item, site="s2"))
    net = _net(prepare(p, fed3, "app", "fed"))
    k = net["node2"]
    assert k.depth == 1 and isinstance(k.block, Condition)
    assert k.block.expr == CondTruth(value=PlaceValue(place="node2__in0"))
    echo = net["node3"]
    assert {(i.name, i.depth) for i in echo.inputs} == {("node3__x", 1), ("node3__ctl", 1)}


def test_try_from_cache_looks_up_and_writes_on_one_site(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline() as p:
        key = Echo(x=PlaceParam(place="k"), site="s1")
        with TryFromCache(key=key["id"]) as cached:
            v = Echo(x=PlaceParam(place="n"), site="s2")
            cached.cache(v)
        Yield(value=Concat(a=cached, site="s2"))
    prepared = prepare(p, fed3, "app", "fed")
    net, sites = _net(prepared), _site_of(prepared)
    lookup, write = net["node1__lookup"], net["node1"]
    assert sites["node1__lookup"] == sites["node1"] == "s2"
    assert lookup.block == CacheLookup(key=PlaceValue(place="node1__lookup__key"))
    assert write.block == CacheWrite(lookup="node1__lookup", value=PlaceValue(place="node1__value"))
    assert [(s.place, s.data) for s in lookup.sends] == [
        ("node1__lookup", ResultValue()),
        ("node2__ctl", lookup.sends[1].data),
    ]
    assert [(s.place, s.data) for s in write.sends] == [("node4__a", ResultValue())]
    assert [(s.place, s.data.kind) for s in net["node2"].sends] == [("node1__value", "stmt")]


def test_literal_cache_key_is_inlined(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        with TryFromCache(key={"dataset": "era5", "year": 2020}) as cached:
            cached.cache(Echo(x=1, site="s1"))
        Yield(value=cached)
    net = _net(prepare(p, fed3, "app", "fed"))
    assert net["node0__lookup"].block == CacheLookup(
        key=LiteralValue(value=("json", {"dataset": "era5", "year": 2020}))
    )
    assert [i.name for i in net["node0__lookup"].inputs] == ["node0__lookup__start"]


def test_pins_best_of_and_providers_work_inside_blocks(fed_info_of: Any) -> None:
    from irgentestops import Concat, Echo

    fed = fed_info_of(
        {"app": 1, "s1": 1, "s2": 1},
        extra={"s2": {"providers": {"p1": {"interface": {"ops.Echo": {"operation": "ops.Echo"}}}}}},
    )
    with Pipeline() as p:
        items = Echo(x=PlaceParam(place="items"), site="app")
        with ForEach(seq=items) as item:
            with If(cond=item):
                a = Echo(x=item, provider="p1")
                Yield(value=Concat(a=a, site=BestOf(sites=["s1"])))
    prepared = prepare(p, fed, "app", "fed")
    assert prepared.placement["node3"] == "s2"
    assert prepared.placement["node4"] == "s1"
    call = _net(prepared)["node3"].body[0]
    assert isinstance(call, AdapterCall) and call.provider == "p1"


def test_prepared_pipeline_with_blocks_round_trips(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        items = Echo(x=PlaceParam(place="items"), site="s1")
        with ForEach(seq=items, sequential=True) as item:
            with If(cond=Not(exp=Equal(left=item, right=None))):
                with TryFromCache(key=item) as cached:
                    cached.cache(Echo(x=item, site="s2"))
                Yield(value=cached)
    prepared = prepare(p, fed3, "app", "fed")
    back = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert back == prepared
    for site, net in prepared.net_irs().items():
        assert NetIR.model_validate_json(net.model_dump_json()).fingerprint == net.fingerprint
        assert back.net_irs()[site].fingerprint == net.fingerprint


def _build(case: str) -> Pipeline:
    from irgentestops import Echo

    with Pipeline() as p:
        items = Echo(x=[1, 2])
        if case == "sibling":
            with ForEach(seq=items):
                inside = Echo(x=1)
            with If(cond=True):
                Echo(x=inside)
        elif case == "after_block":
            with If(cond=True):
                inside = Echo(x=1)
            Yield(value=inside)
        elif case == "item_after_block":
            with ForEach(seq=items) as item:
                pass
            Echo(x=item)
        elif case == "cached_inside":
            with TryFromCache(key="k") as cached:
                cached.cache(Echo(x=cached))
        elif case == "if_missing":
            from dfm.api import NodeId, NodeRef

            with If(cond=Equal(left=NodeRef(id=NodeId(ident=42)), right=1)):
                pass
        elif case == "if_over_yield":
            y = Yield(value=1)
            with If(cond=Equal(left=y.dfm_node_id.to_ref(), right=1)):
                pass
        elif case == "if_over_sibling":
            with If(cond=True):
                inside = Echo(x=1)
            with If(cond=inside):
                pass
        elif case == "key_not_json":
            with TryFromCache(key={1, 2}) as cached:
                cached.cache(1)
        elif case == "no_cache_call":
            with TryFromCache(key="k"):
                Echo(x=1)
        elif case == "cache_twice":
            with TryFromCache(key="k") as cached:
                cached.cache(1)
                cached.cache(2)
        elif case == "write_outside":
            WriteToCache(key="k", value=1, dfm_node_id=well_known_id("w"))
        elif case == "seq_from_body":
            with ForEach(seq=items) as item:
                pass
            with ForEach(seq=item):
                pass
    return p


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "sibling",
            r"ops.Echo \(node 4\) parameter 'x' uses ops.Echo \(node 2\), which is built inside "
            r"the ForEach \(node 1\) block, from a sibling block"
            r".*move the use into the ForEach \(node 1\) block",
        ),
        (
            "after_block",
            r"Yield \(node 3\) yields ops.Echo \(node 2\), which is built inside the If \(node 1\) "
            "block, after its block",
        ),
        ("item_after_block", r"uses the element of ForEach \(node 1\) outside its block"),
        ("cached_inside", r"uses the result of TryFromCache \(node 1\) inside its own block"),
        ("if_missing", r"If \(node 1\) has a condition over node 'node42', which is not"),
        ("if_over_yield", r"If \(node 2\) has a condition over 'node1', a Yield, which has no"),
        (
            "if_over_sibling",
            r"If \(node 3\) has a condition over ops.Echo \(node 2\), which is built inside "
            r"the If \(node 1\) block, after its block",
        ),
        ("key_not_json", r"The key of TryFromCache \(node 1\) is not a JSON value \(a set is not"),
        ("no_cache_call", r"TryFromCache \(node 1\) never calls .cache\(value\)"),
        ("cache_twice", r"TryFromCache \(node 1\) calls .cache\(\) twice"),
        ("write_outside", r"WriteToCache \(node w\) \(from .cache\(\)\) must be directly"),
        ("seq_from_body", r"ForEach \(node 2\) iterates over the element of ForEach \(node 1\) "),
    ],
)
def test_bad_blocks_name_the_node_and_the_fix(fed3: FedInfo, case: str, message: str) -> None:
    p = _build(case)
    with pytest.raises(ValueError, match=message):
        prepare(p, fed3, "app", "fed")


def test_an_if_over_one_operation_is_fused_into_it(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    from dfm.irgen import Guard, StmtValue

    with Pipeline() as p:
        e = Echo(x=PlaceParam(place="n"), site="s1")
        with If(cond=GreaterThan(left=e["v"], right=3)):
            Yield(value=Concat(a="x", site="s2"))
            Yield(value=e, place="e")
        Yield(value=e, place="always")
    net = _net(prepare(p, fed3, "app", "fed"))
    assert "node1" not in net  # no transition of its own
    echo = net["node0"]
    assert echo.guard == Guard(
        node_id=1,
        expr=CondCompare(
            op=">",
            left=StmtValue(stmt_id="node0", sel="v"),
            right=LiteralValue(value=("json", 3)),
        ),
    )
    assert [(s.place, s.guarded) for s in echo.sends] == [
        ("always", False),
        ("e", True),
        ("node2__ctl", True),
        ("_done_s1_node0", False),
    ]
    # Not fused: a condition that also reads a parameter.
    with Pipeline() as p:
        e = Echo(x=PlaceParam(place="n"), site="s1")
        with If(cond=GreaterThan(left=e, right=PlaceParam(place="limit"))):
            Yield(value=e)
    net = _net(prepare(p, fed3, "app", "fed"))
    assert isinstance(net["node1"].block, Condition) and net["node0"].guard is None


def test_describe_shows_block_kinds_depths_and_fused_ifs(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        e = Echo(x=PlaceParam(place="xs"), site="s1")
        with ForEach(seq=e) as x:
            with If(cond=x):
                Yield(value=Echo(x=x, site="s2"))
        with If(cond=e):
            Yield(value=e, place="e")
    text = prepare(p, fed3, "app", "fed").describe()
    placement = "ops.Echo (node 0) on s1\n  ForEach (node 1) on s1\n  If (node 2) on s1\n"
    assert placement in text
    assert "node1 [fan_out]: [node1__seq] -> [" in text
    assert "node1__scatter_s1 [scatter] (depth 1): [node1__elements_s1]" in text
    assert "node2 [cond] (depth 1)" in text
    assert "node5 [cond]: [node5__in0] -> [yield app/e, " in text  # reads the fan-out
    with Pipeline() as p:
        e = Echo(x=PlaceParam(place="x"), site="s1")
        with If(cond=e):
            Yield(value=e, place="e")
    text = prepare(p, fed3, "app", "fed").describe()
    assert (
        "node0 [ops.Echo] [with If (node 1)]: [node0__x] -> [yield if app/e, s1/_done_s1_node0]"
        in text
    )
    assert "  ops.Echo (node 0) on s1\n  If (node 1) on s1\n" in text


def test_discovery_asks_the_operations_inside_blocks(fed3: FedInfo) -> None:
    from irgentestops import Echo

    from dfm.api import Advise
    from dfm.irgen import AdapterDiscovery

    with Pipeline(mode="discovery") as p:
        items = Echo(x=Advise(), site="s1")
        with ForEach(seq=items) as item:
            with If(cond=item):
                Echo(x=item, site="s2")
    prepared = prepare(p, fed3, "app", "fed")
    asked = {
        site: [
            s.node_id for t in net.transitions for s in t.body if isinstance(s, AdapterDiscovery)
        ]
        for site, net in prepared.net_irs().items()
    }
    assert asked == {"s1": [0], "s2": [3]}


def test_pictures_name_block_transitions(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline() as p:
        numbers = Echo(x=PlaceParam(place="n"), site="s1")
        with ForEach(seq=numbers) as x:
            with If(cond=x):
                Yield(value=Concat(a=x, site="s2"))
        with If(cond=numbers):
            Yield(value=numbers, place="n_out")
    dot = prepare(p, fed3, "app", "fed").to_dot()
    for label in ('"ForEach (node 1)"', '"ForEach (node 1)\\nelements"', '"If (node 2)"'):
        assert label in dot, label
