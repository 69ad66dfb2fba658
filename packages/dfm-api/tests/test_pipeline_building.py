from __future__ import annotations

import pytest
from pydantic import ValidationError

from dfm.api import (
    BestOf,
    NodeId,
    NodeRef,
    Pipeline,
    PlaceParam,
    TryFromCache,
    WriteToCache,
    Yield,
    make_auto_id,
    well_known_id,
)


def test_statements_register_in_order_with_auto_ids() -> None:
    from dfmtestops import Concat, Echo

    with Pipeline(name="p") as p:
        e = Echo(x={"a": 1})
        c = Concat(a=e, b="!")
        y = Yield(value=c)
    assert p.dfm_body == [e, c, y]
    assert [s.dfm_node_id for s in p.dfm_body] == [
        make_auto_id(0),
        make_auto_id(1),
        make_auto_id(2),
    ]
    assert c.a == NodeRef(id=e.dfm_node_id)


def test_dict_literal_does_not_consume_ids() -> None:
    from dfmtestops import Echo

    with Pipeline() as p:
        Echo(x={"a": 1})
        Echo(x={"b": 2})
    assert [s.dfm_node_id.ident for s in p.dfm_body] == [0, 1]


def test_nested_pipelines_are_refused() -> None:
    with Pipeline():
        with pytest.raises(RuntimeError, match="one Pipeline"):
            Pipeline().__enter__()


def test_statement_outside_pipeline_needs_an_id() -> None:
    from dfmtestops import Echo

    with pytest.raises(RuntimeError, match="inside `with Pipeline"):
        Echo(x=1)
    op = Echo(x=1, dfm_node_id=well_known_id("free"))
    assert op.dfm_node_id == NodeId(ident="free")


def test_dfm_after_accepts_statement_id_and_ref() -> None:
    from dfmtestops import Echo

    with Pipeline():
        a = Echo(x=1)
        b = Echo(x=2, dfm_after=a)
        c = Echo(x=3, dfm_after=a.dfm_node_id)
        d = Echo(x=4, dfm_after=a.to_ref())
    assert b.dfm_after == c.dfm_after == d.dfm_after == a.dfm_node_id


def test_fieldref_defaults_to_automatic_subscript() -> None:
    from dfmtestops import Echo

    with Pipeline():
        e = Echo(x=1)
        assert e.fieldref("k") == NodeRef(id=e.dfm_node_id, sel="k", issubs=None)
        assert e["k"] == e.fieldref("k")
        assert e.fieldref("k", issubs=False).issubs is False
        assert e.fieldref(2).sel == 2


def test_wrong_literal_type_gives_one_clear_error() -> None:
    from dfmtestops import Concat

    with Pipeline(), pytest.raises(ValidationError) as info:
        Concat(a={"not": "a string"})
    errors = info.value.errors()
    assert len(errors) == 1
    assert "a: expected" in errors[0]["msg"]
    assert "got dict" in errors[0]["msg"]


def test_missing_required_parameter() -> None:
    from dfmtestops import Concat

    with Pipeline(), pytest.raises(ValidationError, match="a: a value is required"):
        Concat()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("place", "rule"),
    [("Bad-name", "Python identifier"), ("_dfm_x", "reserved"), ("class", "keyword")],
)
def test_place_name_rules_name_place_and_rule(place: str, rule: str) -> None:
    with Pipeline():
        with pytest.raises(ValueError, match=rule) as info:
            Yield(value=1, place=place)
        assert repr(place) in str(info.value)
        with pytest.raises(ValueError, match=rule):
            PlaceParam(place=place)


def test_write_to_cache_round_trips() -> None:
    from dfmtestops import Echo

    with Pipeline() as p:
        e = Echo(x=1)
        with TryFromCache(key="k") as cache:
            cache.cache(e)
    assert isinstance(p.dfm_body[1].dfm_body[0], WriteToCache)  # type: ignore[attr-defined]
    assert Pipeline.model_validate_json(p.model_dump_json()) == p


def test_best_of_needs_sites_or_none() -> None:
    with pytest.raises(ValidationError, match="allows no site"):
        BestOf(sites=[])


def test_block_values_are_referenced_like_operation_results() -> None:
    from dfmtestops import Echo

    from dfm.api import ForEach, If

    with Pipeline() as p:
        items = Echo(x=[{"k": 1}])
        with ForEach(seq=items, sequential=True) as item:
            e = Echo(x=item["k"])
            with If(cond=item):
                Echo(x=item)
        with TryFromCache(key=items["k"]) as cached:
            cached.cache(items)
        Yield(value=cached["v"])
    for_each = p.dfm_body[1]
    assert isinstance(for_each, ForEach) and for_each.sequential
    assert e.x == NodeRef(id=for_each.dfm_node_id, sel="k")
    assert p.dfm_body[-1].value == NodeRef(id=cached.dfm_node_id, sel="v")  # type: ignore[attr-defined]
    back = Pipeline.model_validate_json(p.model_dump_json())
    assert back == p and back.dfm_body[1].sequential  # type: ignore[attr-defined]
    # Pipeline files written before the field existed load as concurrent ForEach.
    data = for_each.model_dump(mode="json")
    del data["sequential"]
    assert ForEach.model_validate(data).sequential is False
