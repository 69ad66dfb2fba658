"""prepare() in discovery mode: every candidate site offering an operation is asked."""

from __future__ import annotations

from typing import Any

import pytest

from dfm.api import (
    DISCOVERY_PLACE_NAME,
    START_PLACE_NAME,
    STATUS_PLACE_NAME,
    Advise,
    BestOf,
    FedInfo,
    FlowInfo,
    Frame,
    Pipeline,
    PlaceParam,
    Yield,
    decode_value,
)
from dfm.irgen import (
    AdapterDiscovery,
    AdviceEntry,
    AdviceReport,
    DoneValue,
    NetIR,
    PreparedPipeline,
    StmtValue,
    StopValue,
    TokenSend,
    prepare,
)


def _discoveries(net: NetIR) -> list[AdapterDiscovery]:
    return [s for t in net.transitions for s in t.body if isinstance(s, AdapterDiscovery)]


def _params(call: AdapterDiscovery) -> dict[str, Any]:
    return {name: decode_value(tagged) for name, tagged in call.literal_params.items()}


def test_every_replica_is_asked_with_only_the_set_parameters(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline(name="ask", mode="discovery") as p:
        e = Echo(x=Advise())
        c = Concat(a=e, b=PlaceParam(place="b"), site="s2")
        plain = Echo()
        Yield(value=c)
    prepared = prepare(p, fed3, "app", "fed")
    assert prepared.mode == "discovery"
    assert prepared.get_participating_sites() == ["app", "s1", "s2"]
    assert prepared.status_site == "app"
    assert [y.place for y in prepared.yield_places] == [DISCOVERY_PLACE_NAME, STATUS_PLACE_NAME]
    assert prepared.param_places == [] and not prepared.has_param_places()
    nets = prepared.net_irs()
    asked = {site: [(d.node_id, d.adapter) for d in _discoveries(n)] for site, n in nets.items()}
    assert asked == {
        "app": [(0, "ops.Echo"), (2, "ops.Echo")],
        "s1": [(0, "ops.Echo"), (2, "ops.Echo")],
        "s2": [(0, "ops.Echo"), (1, "ops.Concat"), (2, "ops.Echo")],
    }
    echo, concat, bare = _discoveries(nets["s2"])
    assert _params(echo) == {"x": Advise()}
    # The node reference is left out; the PlaceParam is to be advised.
    assert _params(concat) == {"b": Advise()}
    assert _params(bare) == {}  # only what the pipeline set: adapter defaults apply
    assert concat.method_name == "discover_ops_Concat" and concat.stmt_id == "node1"
    assert plain.dfm_node_id.ident == 2


def test_one_transition_per_site_then_the_status(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline(mode="discovery") as p:
        Echo(x=Advise())
    nets = prepare(p, fed3, "app", "fed").net_irs()
    s1 = nets["s1"]
    assert s1.external == {START_PLACE_NAME: ["_discovery__start"]}
    (t,) = s1.transitions
    assert [(i.name, i.kind, i.origin) for i in t.inputs] == [
        ("_discovery__start", "control", "external")
    ]
    assert t.body[-1] == AdviceReport(
        stmt_id="_advice_", entries=[AdviceEntry(node_id=0, stmt_id="node0")]
    )
    assert t.sends == [
        TokenSend(
            site="app",
            place=DISCOVERY_PLACE_NAME,
            is_yield=True,
            data=StmtValue(stmt_id="_advice_"),
        ),
        TokenSend(site="app", place="_done_s1__discovery_", kind="control", data=DoneValue()),
    ]
    discovery, status = nets["app"].transitions
    assert discovery.name == "_discovery_" and status.name == "_status_"
    assert [i.name for i in status.inputs] == [
        "_done_app__discovery_",
        "_done_s1__discovery_",
        "_done_s2__discovery_",
    ]
    assert status.sends == [
        TokenSend(
            site="app", place=STATUS_PLACE_NAME, kind="control", is_yield=True, data=StopValue()
        )
    ]


def test_pins_best_of_and_candidates_limit_who_is_asked(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline(mode="discovery") as p:
        Echo(site=BestOf(sites=["s1", "s2"]))
        Concat(a="x", site="s1")
        Echo(site=Advise())  # like BestOf(): every candidate

    def asked(pipeline: Pipeline, candidates: Any) -> dict[str, list[Any]]:
        nets = prepare(pipeline, fed3, "app", "fed", candidates).net_irs()
        return {site: [d.node_id for d in _discoveries(net)] for site, net in nets.items()}

    assert asked(p, None) == {"app": [2], "s1": [0, 1, 2], "s2": [0, 2]}
    with pytest.raises(ValueError, match="not among the candidate sites"):
        asked(p, ["app", "s1"])
    with Pipeline(mode="discovery") as anywhere:
        Echo()
    assert asked(anywhere, ["app", "s1"]) == {"app": [0], "s1": [0]}
    assert asked(anywhere, "homesite") == {"app": [0]}


def test_status_goes_to_the_busiest_site_when_the_homesite_is_not_asked(
    fed_info_of: Any,
) -> None:
    from irgentestops import Rare

    fed = fed_info_of(
        {"app": 1, "s1": 1, "s2": 1},
        extra={"s2": {"interface": {"ops.Rare": {"operation": "ops.Rare"}}}},
    )
    with Pipeline(mode="discovery") as p:
        Rare()
    prepared = prepare(p, fed, "app", "fed")
    assert prepared.get_participating_sites() == ["s2"] and prepared.status_site == "s2"
    assert [t.name for t in prepared.net_irs()["s2"].transitions] == ["_discovery_", "_status_"]


def test_provider_operations_are_asked_through_the_provider(fed_info_of: Any) -> None:
    from irgentestops import Echo

    fed = fed_info_of(
        {"app": 1, "s1": 1},
        ops=(),
        extra={"s1": {"providers": {"p1": {"interface": {"ops.Echo": {"operation": "ops.Echo"}}}}}},
    )
    with Pipeline(mode="discovery") as p:
        Echo(provider="p1", x=3)
    (call,) = _discoveries(prepare(p, fed, "app", "fed").net_irs()["s1"])
    assert call.provider == "p1" and _params(call) == {"x": 3}


def test_no_operations_still_finishes(fed3: FedInfo) -> None:
    with Pipeline(mode="discovery") as p:
        Yield(value="only a literal")
    prepared = prepare(p, fed3, "app", "fed")
    (status,) = prepared.net_irs()["app"].transitions
    assert status.name == "_status_" and status.inputs[0].origin == "external"


def test_parameter_values_are_refused(fed3: FedInfo) -> None:
    from irgentestops import Concat

    with Pipeline(mode="discovery") as p:
        Concat(a=PlaceParam(place="a"))
    prepared = prepare(p, fed3, "app", "fed")
    prepared.check_input_params([(Frame([0]), {START_PLACE_NAME: FlowInfo()})])
    with pytest.raises(
        ValueError, match=r"Parameter set 0 provides values for \['a'\], but a discovery"
    ):
        prepared.check_input_params([(Frame([0]), {"a": "x"})])


def test_discovery_pipelines_round_trip_through_json(fed3: FedInfo) -> None:
    from irgentestops import Concat, Echo

    with Pipeline(mode="discovery") as p:
        Concat(a=Echo(x={"k": (1, 2)}), b=PlaceParam(place="b"))
    prepared = prepare(p, fed3, "app", "fed")
    back = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert back == prepared and back.fingerprint == prepared.fingerprint
    assert isinstance(back.net_irs()["s1"].transitions[0].body[0], AdapterDiscovery)
    again = prepare(Pipeline.model_validate_json(p.model_dump_json()), fed3, "app", "fed")
    assert again.fingerprint == prepared.fingerprint
    (echo, _concat) = _discoveries(back.net_irs()["s1"])
    assert _params(echo) == {"x": {"k": (1, 2)}}


def test_malformed_pipelines_are_refused_as_in_execute_mode(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline(mode="discovery") as p:
        Echo(x=PlaceParam(place="v"))
        Yield(value=1, place="v")
    with pytest.raises(ValueError, match="used both by a Yield and by a PlaceParam"):
        prepare(p, fed3, "app", "fed")
