"""Parameter sets encoded by the application (``encode_params``)."""

from __future__ import annotations

from dfm.api import START_PLACE_NAME, DecodePolicy, FlowInfo, Frame
from dfm.runtime import decode_params, encode_params


class _Count(int):
    """An int subclass: not plain JSON, it keeps its class (pickled)."""


def test_plain_values_are_tagged_json_and_the_start_place_is_left_out() -> None:
    frame = Frame.start_frame(0)
    [(got_frame, tagged)] = encode_params(
        [(frame, {"a": 1, "b": "x", "c": None, "d": True, START_PLACE_NAME: FlowInfo()})]
    )
    assert got_frame == frame
    plain = {"a": 1, "b": "x", "c": None, "d": True}
    assert tagged == {name: ("json", value) for name, value in plain.items()}


def test_a_plain_start_place_value_is_left_out_too() -> None:
    [(_, tagged)] = encode_params([(Frame.start_frame(0), {START_PLACE_NAME: 3})])
    assert tagged == {}


def test_an_int_subclass_is_not_taken_for_plain_json() -> None:
    [(_, tagged)] = encode_params([(Frame.start_frame(0), {"a": _Count(3)})])
    assert tagged["a"][0] == "pickle"
    decoded = decode_params(tagged, DecodePolicy(allow_pickle=True))
    assert type(decoded["a"]) is _Count
