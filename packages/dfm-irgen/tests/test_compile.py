from __future__ import annotations

import pytest

from dfm.api import (
    STATUS_PLACE_NAME,
    FedInfo,
    Frame,
    NodeId,
    NodeRef,
    Pipeline,
    PlaceParam,
    Yield,
    decode_value,
    well_known_id,
)
from dfm.irgen import (
    AdapterCall,
    DoneValue,
    LiteralValue,
    NetIR,
    PreparedPipeline,
    StmtValue,
    prepare,
)


def _sends(net: NetIR) -> dict[str, list[tuple[str, str, bool]]]:
    return {t.name: [(s.site, s.place, s.is_yield) for s in t.sends] for t in net.transitions}


def test_chain_crossing_sites_twice(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline(name="zigzag") as p:
        e = Echo(x=1, site="s1")
        c = Concat(a=e["where"], b=PlaceParam(place="b"), site="s2")
        c2 = Concat(a=c, b="y", site="s1")
        Yield(value=c2)
        Yield(value=c, place="mid")
    prepared = prepare(p, fed3, "app", "fed")
    nets = prepared.net_irs()
    assert sorted(nets) == ["s1", "s2"]
    assert prepared.status_site == "s1"
    assert _sends(nets["s1"]) == {
        "node0": [("s2", "node1__a", False)],
        "node2": [("app", "yield", True), ("s1", "_done_s1_node2", False)],
        "_status_": [("app", STATUS_PLACE_NAME, True)],
    }
    # node1 yields, so it also reports its frame to the status transition on s1.
    assert _sends(nets["s2"]) == {
        "node1": [("s1", "node2__a", False), ("app", "mid", True), ("s1", "_done_s2_node1", False)]
    }
    assert isinstance(nets["s2"].transitions[0].sends[-1].data, DoneValue)
    assert nets["s2"].external == {"b": ["node1__b"]}
    assert nets["s1"].external == {"__start_place__": ["node0__start"]}
    send = nets["s1"].transitions[0].sends[0]
    assert send.data == StmtValue(stmt_id="node0", sel="where", issubs=None)
    assert {y.place for y in prepared.yield_places} == {"yield", "mid", STATUS_PLACE_NAME}


def test_only_explicit_parameters_are_passed(fed3: FedInfo) -> None:
    from irgentestops import Concat

    with Pipeline() as p:
        Yield(value=Concat(a="x"))
    call = prepare(p, fed3, "app", "fed").net_irs()["s1"].transitions[0].body[0]
    assert isinstance(call, AdapterCall)
    assert call.literal_params == {"a": ("json", "x")}
    assert call.method_name == "call_ops_Concat"


def test_multiuse_param_feeds_every_use(fed3: FedInfo) -> None:
    from irgentestops import Concat

    with Pipeline() as p:
        Yield(value=Concat(a=PlaceParam(place="a", multiuse=True), site="s1"))
        Yield(value=Concat(a=PlaceParam(place="a", multiuse=True), site="s2"), place="two")
    prepared = prepare(p, fed3, "app", "fed")
    assert prepared.param_places == ["a"]
    assert prepared.net_irs()["s1"].external == {"a": ["node0__a"]}
    assert prepared.net_irs()["s2"].external == {"a": ["node2__a"]}


def test_pipeline_without_operations_yields_literals(fed3: FedInfo) -> None:
    with Pipeline() as p:
        Yield(value={"hello": (1, 2)})
    prepared = prepare(p, fed3, "app", "fed")
    assert prepared.get_participating_sites() == ["app"]
    net = prepared.net_irs()["app"]
    data = net.transitions[0].sends[0].data
    assert isinstance(data, LiteralValue) and decode_value(data.value) == {"hello": (1, 2)}


def test_empty_pipeline_still_reports_status(fed3: FedInfo) -> None:
    prepared = prepare(Pipeline(), fed3, "app", "fed")
    net = prepared.net_irs()["app"]
    assert [t.name for t in net.transitions] == ["_status_"]
    assert net.external == {"__start_place__": ["_status__start"]}


def test_operation_without_yield_is_a_sink(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Echo(x=1, site="s2")
    nets = prepare(p, fed3, "app", "fed").net_irs()
    assert _sends(nets["s2"])["node0"] == [("s2", "_done_s2_node0", False)]


def test_dfm_after_orders_across_sites(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        first = Echo(x=1, site="s1")
        Yield(value=Echo(x=2, site="s2", dfm_after=first))
    nets = prepare(p, fed3, "app", "fed").net_irs()
    after = nets["s1"].transitions[0].sends[0]
    assert (after.site, after.place, after.kind) == ("s2", "node1__after__node0", "control")
    assert [i.kind for i in nets["s2"].transitions[0].inputs] == ["control"]


def test_prepared_pipeline_round_trips(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline() as p:
        e = Echo(x={"k": [1, 2]})
        Yield(value=Concat(a=e[0], b=PlaceParam(place="b")))
    prepared = prepare(p, fed3, "app", "fed")
    back = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert back == prepared and back.fingerprint == prepared.fingerprint


def test_tampered_net_ir_is_rejected(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Yield(value=Echo(x=1))
    data = prepare(p, fed3, "app", "fed").net_irs()["s1"].model_dump(mode="json")
    data["site"] = "s2"
    with pytest.raises(ValueError, match="does not match its fingerprint"):
        NetIR.model_validate(data)


def test_check_input_params_names_index_and_places(fed3: FedInfo) -> None:
    from irgentestops import Concat

    with Pipeline() as p:
        Yield(value=Concat(a=PlaceParam(place="a"), b=PlaceParam(place="b")))
    prepared = prepare(p, fed3, "app", "fed")
    ok = [(Frame.start_frame(0), {"a": "x", "b": "y"}), (Frame.stop_frame(), {})]
    prepared.check_input_params(ok)
    with pytest.raises(ValueError, match=r"Parameter set 1 is missing .*\['b'\]"):
        prepared.check_input_params([ok[0], (Frame.start_frame(1), {"a": "x"})])
    with pytest.raises(ValueError, match=r"Parameter set 0 provided .*\['c'\]"):
        prepared.check_input_params([(Frame.start_frame(0), {"a": 1, "b": 2, "c": 3})])


def test_check_input_params_numbers_sets_by_frame(fed3: FedInfo) -> None:
    from irgentestops import Concat

    with Pipeline() as p:
        Yield(value=Concat(a=PlaceParam(place="a"), b=PlaceParam(place="b")))
    prepared = prepare(p, fed3, "app", "fed")
    # A later send_input_params on an open job: its first set is frame [5], not set 0.
    with pytest.raises(ValueError, match=r"^Parameter set 5 is missing .*\['b'\]"):
        prepared.check_input_params([(Frame.start_frame(5), {"a": "x"})])
    with pytest.raises(ValueError, match=r"^Parameter set 8 must be a dict"):
        prepared.check_input_params([(Frame.start_frame(8), [1])])  # type: ignore[list-item]


def test_check_input_params_reports_missing_and_unexpected_together(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Yield(value=Echo(x=PlaceParam(place="city")))
    prepared = prepare(p, fed3, "app", "fed")
    with pytest.raises(ValueError) as info:
        prepared.check_input_params([(Frame.start_frame(2), {"cty": "Paris"})])
    message = str(info.value)
    assert message.startswith("Parameter set 2 ")
    assert "missing" in message and "['city']" in message
    assert "unexpected" in message and "['cty']" in message
    assert message.endswith("(the pipeline's PlaceParams: ['city'])")


def test_check_callbacks_warns_about_unknown_places_even_with_a_default(
    fed3: FedInfo, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from irgentestops import Echo

    with Pipeline() as p:
        Yield(value=Echo(x=1), place="out")
    prepared = prepare(p, fed3, "app", "fed")
    log = logging.getLogger("test.check_callbacks")
    with caplog.at_level(logging.WARNING, logger=log.name):
        prepared.check_callbacks({"nope"}, log, has_default=True)
    assert len(caplog.records) == 1
    assert "['nope']" in caplog.text and f"['{STATUS_PLACE_NAME}', 'out']" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=log.name):
        prepared.check_callbacks({"nope", STATUS_PLACE_NAME}, log)
    assert "['nope']" in caplog.text
    assert "No callbacks were registered for yield places ['out']" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=log.name):
        prepared.check_callbacks({"out"}, log, has_default=True)
        prepared.check_callbacks(set(), log, has_default=True)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ("pinned_unknown", "pinned to unknown site"),
        ("offered_nowhere", "cannot be placed"),
        ("dangling_ref", "not defined in the pipeline"),
        ("yield_ref", "which has no value"),
        ("duplicate_id", "used by two statements"),
        ("reuse_without_multiuse", "must set multiuse=True on every use"),
        ("yield_and_param", "both by a Yield and by a PlaceParam"),
    ],
)
def test_bad_pipelines_name_the_node(fed3: FedInfo, build: str, message: str) -> None:
    from irgentestops import Echo, Rare

    with Pipeline() as p:
        if build == "pinned_unknown":
            Echo(x=1, site="mars")
        elif build == "offered_nowhere":
            Rare()
        elif build == "dangling_ref":
            Echo(x=NodeRef(id=NodeId(ident=99)))
        elif build == "yield_ref":
            y = Yield(value=1)
            Echo(x=y.dfm_node_id.to_ref())
        elif build == "duplicate_id":
            Echo(x=1, dfm_node_id=well_known_id("a"))
            Echo(x=2, dfm_node_id=well_known_id("a"))
        elif build == "reuse_without_multiuse":
            Yield(value=1, place="out")
            Yield(value=2, place="out", multiuse=True)
        elif build == "yield_and_param":
            Yield(value=Echo(x=PlaceParam(place="z")), place="z")
    with pytest.raises(ValueError, match=message):
        prepare(p, fed3, "app", "fed")


@pytest.mark.parametrize(
    ("restrict", "message"),
    [
        (["s1"], "must include the homesite"),
        (["app", "nope"], "unknown site"),
        ([], "restrict_to_sites is empty"),
    ],
)
def test_bad_candidate_sites(fed3: FedInfo, restrict: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prepare(Pipeline(), fed3, "app", "fed", restrict_to_sites=restrict)


def test_pin_outside_restriction(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Echo(x=1, site="s2")
    with pytest.raises(ValueError, match=r"not among the candidate sites \['app', 's1'\]"):
        prepare(p, fed3, "app", "fed", restrict_to_sites=["app", "s1"])


def test_unknown_homesite(fed3: FedInfo) -> None:
    with pytest.raises(ValueError, match="Homesite 'zz' is not a site"):
        prepare(Pipeline(), fed3, "zz", "fed")


def test_describe_shows_placement_and_transitions(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline(name="p") as p:
        Yield(value=Echo(x=1, site="s2"))
    text = prepare(p, fed3, "app", "fed").describe()
    assert "\n  ops.Echo (node 0) on s2\n" in text
    assert "node0 [ops.Echo]: [node0__start] -> [yield app/yield, s2/_done_s2_node0]" in text
