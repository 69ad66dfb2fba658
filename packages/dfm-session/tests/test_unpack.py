"""ApplicationUnpack: what every target hands the application, under the homesite's policy."""

from __future__ import annotations

import pytest

from dfm.api import DecodePolicy, ErrorToken, Frame, encode_value
from dfm.runtime import TokenPackage, encode_payload
from dfm.session import ApplicationUnpack


def package(payload: tuple[str, object], frames: tuple[object, ...] = ()) -> TokenPackage:
    return TokenPackage(
        "job1", "s1", 3, "app", "yield", True, Frame.start_frame(0), payload, None, frames
    )


def test_a_package_and_its_envelope_give_the_same_delivery() -> None:
    unpack = ApplicationUnpack("home", DecodePolicy())
    payload, frames = encode_payload({"rows": [1, 2], "blob": b"\x00\x01"})
    direct = unpack(package(payload, frames))
    assert direct == unpack(package(payload, frames).to_wire())
    assert direct.from_site == "s1" and direct.node_id == 3 and direct.place == "yield"
    assert direct.data == {"rows": [1, 2], "blob": b"\x00\x01"}


def test_a_value_the_homesite_refuses_is_an_error_token_naming_it() -> None:
    refused = package(encode_value({1, 2}))  # a set only pickle carries
    assert refused.payload[0] == "pickle"
    delivery = ApplicationUnpack("home", DecodePolicy())(refused)
    assert isinstance(delivery.data, ErrorToken)
    message = delivery.data.errors[0].message
    assert "The application (homesite 'home') refuses a value from site 's1'" in message
    assert ApplicationUnpack("home", DecodePolicy(allow_pickle=True))(refused).data == {1, 2}


def test_bytes_that_are_no_envelope_are_refused() -> None:
    with pytest.raises(ValueError, match="Not a DFM token package"):
        ApplicationUnpack("home", DecodePolicy())(b"definitely not an envelope")


def test_a_reader_turns_the_targets_own_items_into_packages_first() -> None:
    payload, frames = encode_payload(42)
    unpack = ApplicationUnpack("home", DecodePolicy(), read=lambda item: item["pkg"])
    assert unpack({"pkg": package(payload, frames)}).data == 42
