"""Token envelopes: the one place that turns a TokenPackage into the bytes DFM sends.

The envelope is exactly the local target's wire (``TokenPackage.to_wire()``); DFM on
NVFLARE treats it as opaque bytes everywhere else, so a change of the wire format
(e.g. out-of-band binary frames) needs no change here but in this module.
"""

from __future__ import annotations

from dfm.runtime import TokenPackage, to_wire_or_error


def envelope(package: TokenPackage) -> bytes:
    """The package's envelope; a package that cannot be serialized carries its error."""
    return to_wire_or_error(package)


def open_envelope(data: bytes | TokenPackage) -> TokenPackage:
    """The package in an envelope (untrusted input).

    Raises:
        ValueError: The bytes are not a token package.
    """
    if isinstance(data, TokenPackage):
        return data
    return TokenPackage.from_wire(data)
