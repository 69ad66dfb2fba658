from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from dfm.api import (
    TRUSTED,
    DecodePolicy,
    ErrorInfo,
    ErrorToken,
    FedInfo,
    FlowInfo,
    Frame,
    NodeId,
    SerializationError,
    StopToken,
    decode_value,
    encode_value,
    site_identifier,
)


class Holder(BaseModel):
    frame: Frame
    flow: FlowInfo = FlowInfo()


def test_frames_compare_hash_and_navigate() -> None:
    f = Frame.start_frame(2)
    assert f == Frame([2]) and hash(f) == hash(Frame((2,)))
    assert f.with_pushed_scope() == Frame([2, 0])
    assert Frame([2, 5]).with_loop_inc() == Frame([2, 6])
    assert Frame([2, 5]).parent() == f == Frame([2, 5]).with_popped_scope()
    assert f.is_ancestor_of(Frame([2, 3])) and f.is_ancestor_of(f)
    assert not Frame([1]).is_ancestor_of(Frame([2, 0]))
    assert Frame.stop_frame().is_stop_frame() and str(Frame.stop_frame()) == "stop"
    assert Frame([3, 1]).input_paramset_index() == 3
    with pytest.raises(ValueError):
        Frame.stop_frame().with_loop_inc()
    with pytest.raises(ValueError):
        Frame([])


def test_frames_in_models_round_trip() -> None:
    h = Holder(frame=Frame([1, 2]))
    assert h.model_dump(mode="json")["frame"] == {"token": "@dfm-control-token", "frame": [1, 2]}
    assert Holder.model_validate_json(h.model_dump_json()) == h
    stop = Holder(frame=Frame.stop_frame())
    assert Holder.model_validate_json(stop.model_dump_json()).frame.is_stop_frame()


def test_error_token_keeps_real_traceback_and_every_cause() -> None:
    try:
        raise KeyError("missing")
    except KeyError as e:
        first = ErrorToken.from_exception(e, node_id=3, site="s1")
    assert "raise KeyError" in first.errors[0].stack_trace
    second = ErrorToken(errors=[ErrorInfo(type="ValueError", message="bad", node_id=4)])
    merged = ErrorToken.merge([first, second, first])
    assert [e.type for e in merged.errors] == ["KeyError", "ValueError"]
    assert "KeyError: 'missing', at (node 3) on s1; ValueError: bad, at (node 4)" in str(merged)


def test_error_token_names_the_operation_node_and_site() -> None:
    from dfm.api import describe_node

    token = ErrorToken.from_exception(
        ValueError("no data"), node_id=3, site="south", operation="stats.Summarize"
    )
    assert token.errors[0].where == "stats.Summarize (node 3) on south"
    assert str(token) == "ErrorToken[ValueError: no data, at stats.Summarize (node 3) on south]"
    again = ErrorToken.model_validate_json(token.model_dump_json())
    assert again.errors[0].operation == "stats.Summarize"
    assert describe_node("ForEach", 5) == "ForEach (node 5)"
    assert describe_node("If", "check", "north") == "If (node check) on north"
    assert describe_node(None, None) == "(no node)"


def test_exception_outside_except_block_keeps_its_own_trace() -> None:
    err = ValueError("x")
    token = ErrorToken.from_exception(err)
    assert "NoneType: None" not in token.errors[0].stack_trace


@pytest.mark.parametrize(
    "value",
    [
        1,
        "s",
        None,
        [1, "a"],
        {"a": [1]},
        (1, 2),
        [1, (2, 3)],
        {1: "x"},
        {"a": (1, 2)},
        {(1, 2): "t"},
        b"\x00\x01",
        {1, 2},
        StopToken(),
        FlowInfo(hint=3),
        Frame([1]),
    ],
)
def test_values_survive_encoding(value: Any) -> None:
    tagged = encode_value(value)
    assert decode_value(tagged, TRUSTED) == value
    if tagged[0] != "pickle":  # everything but pickles decodes under the default policy
        assert decode_value(tagged) == value


def test_default_policy_refuses_pickles_only_where_needed() -> None:
    assert encode_value({1, 2})[0] == "pickle"
    with pytest.raises(SerializationError, match="does not allow pickled"):
        decode_value(encode_value({1, 2}))


def test_non_finite_floats_survive() -> None:
    assert math.isnan(decode_value(encode_value(float("nan"))))
    assert decode_value(encode_value([float("inf")])) == [float("inf")]


def test_unpicklable_value_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="lock"):
        encode_value(threading.Lock())


def test_pickle_refused_unless_allowed() -> None:
    tagged = encode_value({1, 2})
    assert tagged[0] == "pickle"
    with pytest.raises(SerializationError, match="does not allow pickled"):
        decode_value(tagged, DecodePolicy(allow_pickle=False))


def test_model_class_outside_allow_list_is_refused() -> None:
    tagged = ("model", {"class": "somewhere.Else", "data": {}})
    with pytest.raises(SerializationError, match="not allowed here"):
        decode_value(tagged, DecodePolicy())


def test_models_inside_containers_travel_as_json() -> None:
    value = [(NodeId(ident=1), {"flow": FlowInfo(hint=2)}), ErrorToken(errors=[])]
    tagged = encode_value(value)
    assert tagged[0] == "pyjson"
    # No pickle needed: a site that refuses pickles still reads it.
    assert decode_value(tagged, DecodePolicy()) == value


def test_models_inside_containers_obey_the_allow_list() -> None:
    tagged = ("pyjson", ["L", [["M", {"class": "somewhere.Else", "data": {}}]]])
    with pytest.raises(SerializationError, match="not allowed here"):
        decode_value(tagged, DecodePolicy())


def test_a_local_model_inside_a_container_cannot_be_sent() -> None:
    class Local(BaseModel):
        x: int = 1

    # Its class cannot be found by path on the other side (nor pickled).
    with pytest.raises(SerializationError, match="local object"):
        encode_value([Local()])


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.floats(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.tuples(inner, inner)
            | st.dictionaries(st.integers() | st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_json_like_values_survive(value: Any) -> None:
    back = decode_value(encode_value(value))
    assert repr(back) == repr(value)


def test_fed_info_reduces_site_names() -> None:
    info = FedInfo.model_validate({"sites": {"alpha@x.com": {}, "beta": {}}})
    assert list(info.sites) == ["alpha", "beta"]
    assert site_identifier("a@b") == "a"
    with pytest.raises(ValueError, match="Python identifier"):
        site_identifier("a-b")
    with pytest.raises(ValueError, match="not a keyword"):
        site_identifier("class@x.com")  # its module could not be imported
    with pytest.raises(ValueError, match="Cannot load fed_info.json"):
        FedInfo.load_from_package("no_such_federation_pkg")


def test_send_cost_targets_are_site_identifiers() -> None:
    info = FedInfo.model_validate(
        {"sites": {"a@x.com": {"send_cost": {"b@y.org": {"fixed_time": 2}}}, "b": {}}}
    )
    assert info.sites["a"].send_cost["b"].fixed_time == 2


def test_skip_token_has_a_short_form() -> None:
    from dfm.api import SkipToken

    assert encode_value(SkipToken()) == ("skip", None)
    assert decode_value(("skip", None), DecodePolicy()) == SkipToken()
    assert str(SkipToken()) == "SkipToken"


def test_child_frames() -> None:
    f = Frame([3])
    assert f.child(7) == Frame([3, 7]) and f.child(7).child(0) == Frame([3, 7, 0])
    assert f.child(7).parent() == f
    with pytest.raises(ValueError, match="no levels"):
        Frame.stop_frame().child(0)


def test_is_plain_json_takes_exact_json_types_only() -> None:
    from dfm.api import is_plain_json

    assert is_plain_json({"a": [1, 2.5, None, True, "x"]})
    for value in ((1,), {1: "a"}, float("nan"), [float("inf")], {"a": {1, 2}}, b"x"):
        assert not is_plain_json(value), value
