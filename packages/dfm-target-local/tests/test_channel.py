"""How packages cross between the application and its site processes (``_channel``)."""

from __future__ import annotations

import socket

import pytest

from dfm.api import Frame
from dfm.runtime import TokenPackage, encode_payload
from dfm.targets.local._channel import Channel, pack, unpack
from dfm.targets.local._fields import params_to_send, received_params


def _package(value: object, frame: Frame | None = None) -> TokenPackage:
    payload, frames = encode_payload(value)
    return TokenPackage(
        "job1",
        "s1",
        3,
        "home",
        "yield",
        True,
        frame or Frame([4, 1]),
        payload,
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        frames,
    )


@pytest.mark.parametrize("value", [7, "text", True, None, 2.5])
def test_a_scalar_package_crosses_as_its_fields(value: object) -> None:
    package = _package(value)
    item = pack(package)
    assert type(item) is tuple
    assert unpack(item) == package


def test_the_stop_frame_crosses_as_fields() -> None:
    package = _package(None, Frame.stop_frame())
    assert unpack(pack(package)).frame.is_stop_frame()


@pytest.mark.parametrize("value", [[1, [2, 3]], {"a": 1}, b"\x00" * 64, float("nan")])
def test_containers_and_binary_values_cross_as_envelopes(value: object) -> None:
    package = _package(value)
    item = pack(package)
    assert isinstance(item, bytes)
    assert TokenPackage.from_wire(item).payload == package.payload


def test_fields_cross_a_real_channel_in_a_batch() -> None:
    ours, theirs = socket.socketpair()
    sender, receiver = Channel(ours), Channel(theirs)
    try:
        packages = [_package(i, Frame([i])) for i in range(3)]
        sender.send(("batch", [("yield", "job1", pack(p)) for p in packages]))
        kind, messages = receiver.recv()
        assert kind == "batch"
        assert [unpack(m[2]) for m in messages] == packages
    finally:
        sender.close()
        receiver.close()


def test_parameter_sets_cross_with_their_frames() -> None:
    sent = [
        (Frame.start_frame(0), {"a": ("json", 1)}),
        (Frame([2, 5]), {"a": ("pickle", "eA==")}),
        (Frame.stop_frame(), {}),
    ]
    assert received_params(params_to_send(sent)) == sent
