"""Protobuf wire primitives and OTLP ``AnyValue``/``KeyValue`` fields, as bytes.

The building blocks of DFM's OTLP encoder (``_otlp_encode``): varints, tags,
length-delimited fields, attribute values and key/value lists, written as the
protobuf runtime would serialize them.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanContext

_log = logging.getLogger("dfm.telemetry")

_SMALL = [bytes((n,)) for n in range(128)]
_DOUBLE = struct.Struct("<d")
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")
_FLAGS_HAS_IS_REMOTE = 0x100
_FLAGS_IS_REMOTE = 0x200


def _varint(n: int) -> bytes:
    if n < 0:
        n &= (1 << 64) - 1  # int64 on the wire: two's complement, ten bytes
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


# Tags used on every span, precomputed: (field number, wire type).
_T1_LEN, _T2_LEN, _T3_LEN, _T4_LEN = (_tag(f, 2) for f in (1, 2, 3, 4))
_T5_LEN, _T6_LEN, _T7_LEN = _tag(5, 2), _tag(6, 2), _tag(7, 2)
_T9_LEN, _T11_LEN, _T13_LEN, _T15_LEN = _tag(9, 2), _tag(11, 2), _tag(13, 2), _tag(15, 2)
_T1_FIX64, _T4_FIX64 = _tag(1, 1), _tag(4, 1)
_T7_FIX64, _T8_FIX64 = _tag(7, 1), _tag(8, 1)
_T16_FIX32, _T6_FIX32 = _tag(16, 5), _tag(6, 5)
_T2_VAR, _T3_VAR, _T4_VAR, _T5_VAR, _T6_VAR = (_tag(f, 0) for f in (2, 3, 4, 5, 6))
_T10_VAR, _T12_VAR, _T14_VAR = _tag(10, 0), _tag(12, 0), _tag(14, 0)
_EMPTY_ANY = _delimited(_T2_LEN, b"")  # KeyValue.value for None: an empty AnyValue
# Encoded KeyValues of scalar attributes: DFM's spans repeat most of theirs (site,
# federation, operation); the cache is emptied when full, so unique values (job ids)
# cost one insert each and never grow it.
_KV: dict[tuple[str, type, Any], bytes] = {}
_KV_MAX = 4096


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message's bytes (its oneof field is always written, as the SDK does)."""
    kind = type(value)
    if kind is str:
        return _delimited(_T1_LEN, value.encode())
    if kind is bool:
        return _T2_VAR + (b"\x01" if value else b"\x00")
    if kind is int:
        return _T3_VAR + _varint(value)
    if kind is float:
        return _T4_FIX64 + _DOUBLE.pack(value)
    if kind is tuple or kind is list:  # before the ABC checks below, which are slow
        items = b"".join(_delimited(_T1_LEN, _any_value(v)) for v in value)
        return _delimited(_T5_LEN, items)
    if value is None:
        return b""
    if isinstance(value, bool):
        return _T2_VAR + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _delimited(_T1_LEN, value.encode())
    if isinstance(value, int):
        return _T3_VAR + _varint(int(value))
    if isinstance(value, float):
        return _T4_FIX64 + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _delimited(_T7_LEN, value)
    if isinstance(value, Sequence):
        items = b"".join(_delimited(_T1_LEN, _any_value(v)) for v in value)
        return _delimited(_T5_LEN, items)
    if isinstance(value, Mapping):
        pairs = b"".join(_delimited(_T1_LEN, _key_value(str(k), v)) for k, v in value.items())
        return _delimited(_T6_LEN, pairs)
    raise TypeError(f"invalid attribute value type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        cache_key = (key, kind, value)  # the type too: True == 1, but they encode apart
        cached = _KV.get(cache_key)
        if cached is None:
            cached = _encode_key_value(key, value)
            if len(_KV) >= _KV_MAX:
                _KV.clear()
            _KV[cache_key] = cached
        return cached
    return _encode_key_value(key, value)


def _encode_key_value(key: str, value: Any) -> bytes:
    prefix = _delimited(_T1_LEN, key.encode()) if key else b""
    if value is None:
        return prefix + _EMPTY_ANY
    return prefix + _delimited(_T2_LEN, _any_value(value))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields; a value that cannot be encoded is left out (logged)."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        try:
            parts.append(_delimited(tag, _key_value(key, value)))
        except Exception as error:
            _log.warning("DFM telemetry: attribute %r left out: %s", key, error)
    return b"".join(parts)


def _uint(tag: bytes, n: int | None) -> bytes:
    return tag + _varint(n) if n else b""


def _string(tag: bytes, text: str | None) -> bytes:
    return _delimited(tag, text.encode()) if text else b""


def _flags(context: SpanContext | None) -> bytes:
    flags = _FLAGS_HAS_IS_REMOTE
    if context is not None and context.is_remote:
        flags |= _FLAGS_IS_REMOTE
    return _FIXED32.pack(flags)


def _length(n: int) -> bytes:
    if n < 128:
        return _SMALL[n]
    if n < 16384:
        return bytes((n & 0x7F | 0x80, n >> 7))
    return _varint(n)
