from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfm.api import (
    TRUSTED,
    Advise,
    And,
    BestOf,
    EncodedLiteral,
    Equal,
    ForEach,
    GreaterThan,
    If,
    LessThanOrEqual,
    Not,
    NotEqual,
    Or,
    PickledObject,
    Pipeline,
    PlaceParam,
    TryFromCache,
    Yield,
    well_known_id,
)


def _every_construct() -> Pipeline:
    from dfmtestops import Concat, Echo, Point, Shape

    with Pipeline(name="all", api_version="1.2.3") as p:
        e = Echo(x={"a": [1, 2.5, None, True]}, site="s1")
        c = Concat(a=e["name"], b=PlaceParam(place="b", multiuse=True), site=BestOf(sites=["s1"]))
        s = Shape(points={"p": PickledObject({1, 2})}, origin=Point(x=1, y=2), provider="geo")
        Concat(a=c.fieldref("x", issubs=False), b=Advise(), dfm_after=s)
        Echo(x=PlaceParam(place="b", multiuse=True), dfm_node_id=well_known_id("named"))
        Yield(value=c)
        Yield(value=PickledObject(frozenset({3})), place="pickled")
        with If(
            cond=Or(
                exp=[And(exp=[Equal(left=e, right=1), Not(exp=c)]), GreaterThan(left=2, right=1)]
            )
        ):
            Yield(value=LessThanOrEqual(left=1, right=2).right, place="inner")
        with If(cond=NotEqual(left=e["k"], right="v")):
            Yield(value="x", place="other")
        with ForEach(seq=e) as item:
            Yield(value=item, place="items")
        with TryFromCache(key=e) as cache:
            cache.cache(c)
    return p


def test_every_construct_round_trips() -> None:
    p = _every_construct()
    text = p.model_dump_json()
    back = Pipeline.model_validate_json(text)
    assert back == p
    assert back.model_dump_json() == text


def test_json_names_concrete_classes() -> None:
    data = json.loads(_every_construct().model_dump_json())
    names = [s["dfm_class_name"] for s in data["dfm_body"]]
    assert names[:2] == ["dfmtestops.Echo", "dfmtestops.Concat"]
    assert "dfm.api.If" in names and "dfm.api.ForEach" in names
    assert data["dfm_body"][0]["dfm_node_id"] == {"tag": "@dfm-node", "ident": 0}


def test_save_and_load_file(tmp_path: Path) -> None:
    p = _every_construct()
    target = tmp_path / "sub" / "p.json"
    p.save_to_file(target)
    Pipeline.save_to_file(p, tmp_path / "again.json")
    assert Pipeline.load_from_file(target) == p
    with pytest.raises(FileNotFoundError, match="Pipeline file not found"):
        Pipeline.load_from_file(tmp_path / "missing.json")


def test_unknown_module_is_not_imported() -> None:
    data = json.loads(_every_construct().model_dump_json())
    data["dfm_body"][0]["dfm_class_name"] = "os.path.Echo"
    with pytest.raises(ValueError, match="outside the allowed modules"):
        Pipeline.model_validate(data)


def test_missing_class_is_a_clear_error() -> None:
    data = json.loads(_every_construct().model_dump_json())
    data["dfm_body"][0]["dfm_class_name"] = "dfmtestops.Nope"
    with pytest.raises(ValueError, match="has no class 'Nope'"):
        Pipeline.model_validate(data)


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
place_name = st.sampled_from(["a", "b", "c"])


@st.composite
def pipelines(draw: Any) -> Pipeline:
    from dfmtestops import Concat, Echo

    steps = draw(st.lists(st.integers(0, 4), min_size=0, max_size=8))
    with Pipeline(name=draw(st.none() | st.text(max_size=4))) as p:
        nodes: list[Any] = []
        for step in steps:
            if step == 0 or not nodes:
                nodes.append(Echo(x=draw(json_value)))
            elif step == 1:
                sel = draw(st.none() | st.integers(0, 3) | st.sampled_from(["k", "v"]))
                src = draw(st.sampled_from(nodes))
                nodes.append(Echo(x=src if sel is None else src.fieldref(sel)))
            elif step == 2:
                nodes.append(Concat(a=PlaceParam(place=draw(place_name), multiuse=True)))
            elif step == 3:
                Yield(value=draw(st.sampled_from(nodes)), place="out", multiuse=True)
            else:
                with If(cond=Equal(left=draw(st.sampled_from(nodes)), right=draw(json_leaf))):
                    Yield(value=draw(json_value), place="inner", multiuse=True)
    return p


@settings(max_examples=60, deadline=None)
@given(pipelines())
def test_any_pipeline_round_trips(p: Pipeline) -> None:
    assert Pipeline.model_validate_json(p.model_dump_json()) == p


@pytest.mark.parametrize(
    "literal", [(1, (2, 3)), {1: "x"}, b"\xff\x00", {"a": (1, 2)}, float("inf")]
)
def test_literals_keep_their_types_in_pipeline_files(literal: Any, tmp_path: Path) -> None:
    from dfmtestops import Echo

    with Pipeline() as p:
        Echo(x=literal)
        Yield(value=literal)
    p.save_to_file(tmp_path / "p.json")
    back = Pipeline.load_from_file(tmp_path / "p.json")
    assert back == p
    assert type(back.dfm_body[0].x) is type(literal)  # type: ignore[attr-defined]


def test_pickled_literals_stay_encoded_in_pipeline_files(tmp_path: Path) -> None:
    from dfmtestops import Echo

    with Pipeline() as p:
        Echo(x={1, 2})
        Yield(value={1, 2})
    p.save_to_file(tmp_path / "p.json")
    back = Pipeline.load_from_file(tmp_path / "p.json")
    assert back == p
    assert isinstance(back.dfm_body[0].x, EncodedLiteral)  # type: ignore[attr-defined]
    assert back.dfm_body[0].x.decode(TRUSTED) == {1, 2}  # type: ignore[attr-defined]


def test_unset_parameters_stay_unset() -> None:
    # Only the parameters the user set are passed to adapters (their defaults apply to
    # the rest), so a loaded pipeline must know which ones were set.
    from dfmtestops import Concat, Echo

    with Pipeline() as p:
        Echo()
        Echo(x=None)
        Concat(a="x", site="s1")
    data = json.loads(p.model_dump_json())
    assert "x" not in data["dfm_body"][0] and data["dfm_body"][1]["x"] is None
    assert "b" not in data["dfm_body"][2] and data["dfm_body"][2]["site"] == "s1"
    back = Pipeline.model_validate_json(p.model_dump_json())
    assert back == p
    params = [s.operation_params() for s in back.dfm_body]  # type: ignore[attr-defined]
    assert params == [{}, {"x": None}, {"a": "x"}]
    again = Pipeline.model_validate(p.model_dump())
    assert [s.operation_params() for s in again.dfm_body] == params  # type: ignore[attr-defined]
