"""Parameter sets on their way to the sites: encoded once by the application, decoded per site."""

from __future__ import annotations

from typing import Any

from dfm.api import START_PLACE_NAME, DecodePolicy, Frame, decode_value, encode_value

from ._context import error_token

EncodedParams = list[tuple[Frame, dict[str, tuple[str, Any]]]]
"""Parameter sets with tagged (``encode_value``) values; no ``__start_place__``."""

# Values encode_value tags "json" as they are (exact types: a subclass may be pickled).
_PLAIN = frozenset({int, str, bool, type(None)})


def encode_params(framed: list[tuple[Frame, dict[str, Any]]]) -> EncodedParams:
    """Encode every parameter value (``__start_place__`` is implied and left out).

    Raises:
        ValueError: A value cannot be serialized (nothing was sent).
    """
    encoded: EncodedParams = []
    plain = _PLAIN
    for frame, values in framed:
        tagged = {}
        for name, value in values.items():
            if name == START_PLACE_NAME:
                continue
            if type(value) in plain:
                tagged[name] = ("json", value)
                continue
            try:
                tagged[name] = encode_value(value)
            except ValueError as e:
                raise ValueError(f"Parameter {name!r} of frame {frame} cannot be sent: {e}") from e
        encoded.append((frame, tagged))
    return encoded


def decode_params(
    values: dict[str, tuple[str, Any]], policy: DecodePolicy, site: str | None = None
) -> dict[str, Any]:
    """Decode tagged parameter values under a site's policy.

    A value that cannot be decoded (or that the policy refuses) becomes an ErrorToken
    naming the parameter, the site and the rule; its frame fails, the others run.
    """
    decoded = {}
    for name, tagged in values.items():
        try:
            decoded[name] = tagged[1] if tagged[0] == "json" else decode_value(tagged, policy)
        except Exception as e:
            where = f"Site {site!r}" if site is not None else "This site"
            decoded[name] = error_token(
                "SerializationError",
                f"{where} refuses parameter {name!r}: {e}",
                e,
                None,
                site,
            )
    return decoded
