"""The fast wire: binary data travels as raw frames next to a small JSON header.

Values are encoded with ``encode_payload`` (what a site sends), put in a package and
sent through the envelope (``to_wire``/``from_wire``), or handed over as objects (thread
mode). Checked: every buffer type survives with its type, no base64 in the header, at
most one copy per hop within a process, the envelope's layout, and hostile packages
(bad frame indexes, object dtypes, wrong shapes, pickles without the policy).
"""

from __future__ import annotations

import array
import base64
import builtins
import json
import pickle
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfm.api import DecodePolicy, ErrorToken, Frame, SerializationError, StopToken
from dfm.runtime import TokenPackage, decode_payload, encode_payload

ALLOW_PICKLE = DecodePolicy(allow_pickle=True)
RESTRICTIVE = DecodePolicy()
F0 = Frame.start_frame(0)


def package(value) -> TokenPackage:
    payload, frames = encode_payload(value)
    return TokenPackage("job", "s1", 4, "s2", "p", False, F0, payload, None, frames)


def over_the_wire(value, policy: DecodePolicy = RESTRICTIVE):
    back = TokenPackage.from_wire(package(value).to_wire())
    return back.unwrap(policy)


def handed_over(value, policy: DecodePolicy = RESTRICTIVE):
    return package(value).unwrap(policy)


BUFFERS = [
    b"",
    b"\x00\xff" * 1000,
    bytearray(b"mutable"),
    memoryview(b"view of bytes"),
    memoryview(bytearray(range(24))).cast("i"),
    memoryview(bytes(range(24))).cast("B", (4, 6)),
    array.array("d", [1.5, -2.0, float("inf")]),
    array.array("q", range(100)),
]


@pytest.mark.parametrize("value", BUFFERS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("move", [over_the_wire, handed_over])
def test_buffers_survive_with_their_type(value, move) -> None:
    got = move(value)
    assert type(got) is type(value)
    if isinstance(value, memoryview):
        assert (got.format, got.shape) == (value.format, value.shape)
        assert got.tobytes() == value.tobytes()
    else:
        assert got == value


@pytest.mark.parametrize("move", [over_the_wire, handed_over])
def test_containers_with_buffers(move) -> None:
    value = {"name": "scan", 7: [b"a" * 100, (bytearray(b"b"), 1.5)], "nan": float("inf")}
    got = move(value)
    assert got == value and type(got[7][1][0]) is bytearray


@pytest.mark.parametrize("move", [over_the_wire, handed_over])
def test_models_beside_buffers_in_a_container(move) -> None:
    value = [ErrorToken(errors=[]), b"\x00" * 64, {"stop": StopToken()}]
    p = package(value)
    assert p.payload[0] == "framed" and len(p.frames) == 1
    assert move(value) == value


def test_no_base64_in_the_header_and_frames_are_raw() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    wire = package({"blob": data, "more": [data]}).to_wire()
    header_size, count = struct.unpack_from("<II", wire, 8)
    header = wire[16 + 8 * count : 16 + 8 * count + header_size]
    assert len(header) < 500 and count == 2
    assert base64.b64encode(data[:48]) not in header
    assert wire.count(data) == 2
    payload = json.loads(header)[7]
    assert payload[0] == "framed"


def test_frames_are_aligned_and_parts_join_to_the_wire() -> None:
    p = package([b"x" * 3, b"y" * 13, b"z"])
    parts = p.to_wire_parts()
    wire = b"".join(parts)
    assert wire == p.to_wire() and len(wire) % 8 == 0
    back = TokenPackage.from_wire(wire)
    for frame in back.frames:
        assert isinstance(frame, memoryview) and frame.obj is not None
    offsets = [wire.index(c * n) for c, n in ((b"x", 3), (b"y", 13), (b"z", 1))]
    assert all(o % 8 == 0 for o in offsets)


def test_from_wire_does_not_copy_the_frames() -> None:
    data = bytearray(b"\x01" * 64)
    wire = bytearray(package(bytes(data)).to_wire())
    back = TokenPackage.from_wire(wire)
    [frame] = back.frames
    frame_start = len(wire) - 64
    wire[frame_start] = 0x7F  # the frame is a view of the received data
    assert frame[0] == 0x7F


def test_in_process_bytes_are_not_copied_and_mutable_buffers_once() -> None:
    data = b"\x02" * 10_000
    assert handed_over(data) is data
    mutable = bytearray(b"\x03" * 10)
    p = package(mutable)
    mutable[0] = 0  # the sender changes it after sending: the receiver does not see it
    [frame] = p.frames
    got = p.unwrap(RESTRICTIVE)
    assert got is frame and got[0] == 3


def test_other_buffer_objects_arrive_as_memoryviews() -> None:
    import mmap

    m = mmap.mmap(-1, 16)
    m.write(b"0123456789abcdef")
    got = over_the_wire(m)
    assert type(got) is memoryview and got.tobytes() == b"0123456789abcdef"
    m.close()


def test_pickle_only_values_use_pickle5_frames_and_need_the_policy() -> None:
    value = {1, 2, 3}
    p = package(value)
    assert p.payload[0] == "pickle5" and isinstance(p.frames[0], bytes)
    assert TokenPackage.from_wire(p.to_wire()).unwrap(ALLOW_PICKLE) == value
    with pytest.raises(SerializationError, match="does not allow pickled data"):
        TokenPackage.from_wire(p.to_wire()).unwrap(RESTRICTIVE)


class Boom:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.DFM_WIRE_CANARY = True",))


def test_regression_a_crafted_pickle5_package_is_refused_without_running() -> None:
    data = pickle.dumps(Boom(), protocol=5)
    payload = ("pickle5", {"frame": 0, "buffers": []})
    hostile = TokenPackage("j", "evil", 1, "s2", "p", False, F0, payload, None, (data,))
    with pytest.raises(SerializationError, match="does not allow pickled data"):
        TokenPackage.from_wire(hostile.to_wire()).unwrap(RESTRICTIVE)
    assert not hasattr(builtins, "DFM_WIRE_CANARY")


@pytest.mark.parametrize(
    "body",
    [
        {"frame": 1, "type": "bytes"},
        {"frame": -1, "type": "bytes"},
        {"frame": "0", "type": "bytes"},
        {"frame": 0, "type": "pickle"},
        {"frame": 0, "type": "memoryview", "format": "O", "shape": [1]},
        {"frame": 0, "type": "memoryview", "format": "d", "shape": [3]},
        {"frame": 0, "type": "memoryview", "format": "B", "shape": [-1]},
        {"frame": 0, "type": "array", "typecode": "x"},
        {"frame": 0, "type": "ndarray", "dtype": "O", "shape": [1]},
        {"frame": 0, "type": "ndarray", "dtype": "|O8", "shape": [1]},
        {"frame": 0, "type": "ndarray", "dtype": "<f8", "shape": [100]},
        ["X"],
    ],
)
def test_hostile_buffer_bodies_are_refused(body) -> None:
    with pytest.raises(SerializationError):
        decode_payload(("buffer", body), (b"\x00" * 8,), RESTRICTIVE)


def test_hostile_framed_trees_are_refused() -> None:
    for tree in (["L"], ["Q", []], ["D", [[1]]], ["F", "1e999"], ["X", {"frame": 5}]):
        with pytest.raises(SerializationError):
            decode_payload(("framed", tree), (), RESTRICTIVE)


def test_plain_values_keep_their_json_form() -> None:
    assert encode_payload("x" * 1024) == (("json", "x" * 1024), ())
    assert encode_payload({"a": [1, 2.5]}) == (("json", {"a": [1, 2.5]}), ())
    assert encode_payload((1, 2)) == (("pyjson", ["T", [1, 2]]), ())
    assert encode_payload(StopToken())[0] == ("stop", None)
    error = ErrorToken(errors=[])
    assert handed_over(error) == error


def test_unsendable_values_are_a_serialization_error() -> None:
    import threading

    with pytest.raises(SerializationError, match="lock"):
        encode_payload(threading.Lock())


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.one_of(
            st.binary(max_size=64),
            st.binary(max_size=64).map(bytearray),
            st.integers(),
            st.text(max_size=8),
            st.floats(allow_nan=False),
            st.none(),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=4),
        ),
        max_leaves=12,
    )
)
def test_property_any_mix_of_data_and_buffers_round_trips(value) -> None:
    assert over_the_wire(value) == value
    assert handed_over(value) == value


# numpy is not a dependency: the tests below skip where it is not installed.


@pytest.mark.parametrize("move", [over_the_wire, handed_over])
def test_numpy_arrays_keep_dtype_and_shape_and_are_writable(move) -> None:
    np = pytest.importorskip("numpy")
    for value in (
        np.arange(12, dtype="<f8").reshape(3, 4),
        np.arange(6, dtype=">i4"),
        np.zeros((2, 0, 3), dtype="u1"),
        np.array(["a", "bc"]),
        np.arange(10)[::2],  # not contiguous: sent as a contiguous copy
        np.array([1, 2], dtype="datetime64[ns]"),
    ):
        got = move(value)
        assert type(got) is np.ndarray and got.dtype == value.dtype and got.shape == value.shape
        assert np.array_equal(got, value)
        if got.size:
            got.flat[0] = got.flat[-1]  # writable


def test_numpy_object_arrays_need_pickle() -> None:
    np = pytest.importorskip("numpy")
    value = np.array([{"a": 1}, None], dtype=object)
    assert package(value).payload[0] == "pickle5"
    assert list(over_the_wire(value, ALLOW_PICKLE)) == list(value)
    with pytest.raises(SerializationError, match="pickled"):
        over_the_wire(value)


def test_numpy_array_in_process_is_one_copy() -> None:
    np = pytest.importorskip("numpy")
    value = np.ones(1000)
    p = package(value)
    [frame] = p.frames
    assert frame is not value and frame.base is None  # the one copy, made at send
    assert p.unwrap(RESTRICTIVE) is frame
