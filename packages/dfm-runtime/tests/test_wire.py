"""TokenPackage wire format and the serializer's edge cases through it."""

from __future__ import annotations

import json
import math
import struct
import threading

import pytest
from pydantic import BaseModel

from dfm.api import (
    TRUSTED,
    DecodePolicy,
    ErrorToken,
    FlowInfo,
    Frame,
    SerializationError,
    StopToken,
    encode_value,
)
from dfm.runtime import TokenPackage
from dfm.runtime._wire import envelope_parts


class Point(BaseModel):
    x: int
    y: float


F3 = Frame.start_frame(3)


def round_trip(value, policy: DecodePolicy = TRUSTED, frame: Frame = F3):
    package = TokenPackage("job", "s1", 4, "app", "yield", True, frame, encode_value(value))
    wire = package.to_wire()
    assert isinstance(wire, bytes)
    back = TokenPackage.from_wire(wire)
    assert back == package or back.payload != package.payload  # tuples vs lists inside
    return back, back.unwrap(policy)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        "text ünïcödé \u2603",
        "lone surrogate \udc80",
        [],
        {},
        [1, [2, {"a": None}]],
        {"k": [1, 2], "n": {"m": "v"}},
        (1, 2),
        ((1, "a"), [2, (3,)]),
        {1: "int key", (1, 2): "tuple key", None: 0},
        b"\x00\xffbytes",
        [b"nested bytes"],
        {"inf": math.inf, "ninf": -math.inf},
        {1, 2, 3},
        frozenset({"a"}),
        complex(1, 2),
    ],
)
def test_values_survive_the_wire(value) -> None:
    _, got = round_trip(value)
    assert got == value
    assert type(got) is type(value)


def test_nan_survives() -> None:
    _, got = round_trip([math.nan])
    assert math.isnan(got[0])


def test_models_and_tokens_survive() -> None:
    for value in (Point(x=1, y=2.5), StopToken(), FlowInfo(hint=3), ErrorToken(errors=[])):
        _, got = round_trip(value)
        assert got == value and type(got) is type(value)


def test_frames_survive() -> None:
    for frame in (Frame.start_frame(0), Frame((1, 2, 3)), Frame.stop_frame()):
        back, _ = round_trip(1, frame=frame)
        assert back.frame == frame
    back, _ = round_trip(1, frame=Frame.stop_frame())
    assert back.frame is Frame.stop_frame()


def test_wire_is_an_envelope_with_a_compact_json_header() -> None:
    package = TokenPackage(
        "j",
        "s1",
        None,
        "s2",
        "p",
        False,
        Frame.start_frame(0),
        ("json", 1),
        {"traceparent": "00-x"},
    )
    wire = package.to_wire()
    assert wire[:4] == b"DFMW" and wire[4] == 1
    header_size, frames = struct.unpack_from("<II", wire, 8)
    assert frames == 0 and len(wire) == 16 + header_size + (-(16 + header_size) % 8)
    header = wire[16 : 16 + header_size]
    assert b" " not in header
    raw = json.loads(header)
    assert raw == ["j", "s1", None, "s2", "p", False, [0], ["json", 1], {"traceparent": "00-x"}]
    assert TokenPackage.from_wire(wire) == package


def test_pickle_needs_a_policy_that_allows_it() -> None:
    _, got = round_trip({1}, TRUSTED)
    assert got == {1}
    with pytest.raises(SerializationError, match="unpickle"):
        round_trip({1}, DecodePolicy())


def test_unpicklable_value_cannot_be_encoded() -> None:
    with pytest.raises(SerializationError, match="lock"):
        encode_value(threading.Lock())


def envelope(header: object, frames: tuple = ()) -> bytes:
    return b"".join(envelope_parts(header, frames))  # type: ignore[arg-type]


GOOD = TokenPackage("j", "a", 1, "b", "p", False, Frame.start_frame(0), ("json", 1))


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"job_id": "j"}',
        b"DFMW",
        b"DFMW\x02\x00\x00\x00" + bytes(8),
        envelope([]),
        envelope({"job_id": "j"}),
        envelope(["j", "a"]),
        GOOD.to_wire()[:-8] + b"\x00" * 16,
        GOOD.to_wire()[:20],
    ],
)
def test_from_wire_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ValueError, match="Not a DFM token package"):
        TokenPackage.from_wire(data)


FIELDS = ("job_id", "source_site", "source_node", "target_site", "target_place", "is_yield")
FIELDS += ("frame", "payload", "trace_context")


def test_from_wire_rejects_bad_fields() -> None:
    good = json.loads(json.dumps(GOOD._header()))
    for key, bad in (
        ("payload", ["json"]),
        ("is_yield", "yes"),
        ("target_place", 3),
        ("source_node", [1]),
        ("trace_context", "x"),
        ("frame", []),
        ("frame", [True]),
        ("frame", {"frame": [0]}),
        ("job_id", None),
    ):
        header = list(good)
        header[FIELDS.index(key)] = bad
        with pytest.raises(ValueError, match="Not a DFM token package"):
            TokenPackage.from_wire(envelope(header))
