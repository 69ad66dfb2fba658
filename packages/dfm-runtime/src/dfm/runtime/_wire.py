"""The envelope: one token package as bytes, the same on every target.

Layout (all integers little-endian)::

    offset  size      field
    0       4         magic b"DFMW"
    4       1         version (1)
    5       3         reserved, zero
    8       4         H: length of the header
    12      4         N: number of frames
    16      8 * N     length of each frame
    16+8N   H         header: compact UTF-8 JSON array of the package's fields, in
                      this order: job_id, source_site, source_node, target_site,
                      target_place, is_yield, frame (its levels, e.g. [0], or "stop"),
                      payload ([tag, json]), trace_context (object or null)
    ...     0-7       zero padding to a multiple of 8
    ...               frame 0, zero padding to a multiple of 8, frame 1, ...,
                      the last frame and its padding: the end of the data

A frame is raw bytes (a buffer of the value, see :mod:`dfm.runtime._payload`); every
frame starts 8-byte aligned, so a numpy array can be read from it in place. The data
ends exactly after the last frame. :func:`envelope_parts` gives the pieces without
joining them (a transport can write them one by one, or into shared memory);
:func:`parse_envelope` returns the frames as memoryviews of the data, not copies;
:func:`read_envelope` reads one through a callback (a file, shared memory).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from typing import Any

MAGIC = b"DFMW"
VERSION = 1
_FIXED = struct.Struct("<4sB3xII")
_LENGTH = struct.Struct("<Q")
_ZEROS = bytes(8)
_MAX_FRAMES = 1 << 20
_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # made once: it is hot


def _pad(n: int) -> int:
    return -n % 8


def frame_view(frame: Any) -> memoryview:
    """A frame's bytes as a flat memoryview (no copy)."""
    if type(frame) is memoryview:
        view = frame
    else:
        try:
            view = memoryview(frame)
        except ValueError:  # numpy datetime arrays export no buffer format: their bytes
            view = memoryview(frame.reshape(-1).view("u1"))
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B") if view.nbytes else memoryview(b"")
    return view


def _lengths(count: int) -> struct.Struct:
    known = _LENGTHS.get(count)
    if known is None:
        known = struct.Struct(f"<{count}Q")
        if count <= 64:
            _LENGTHS[count] = known
    return known


_LENGTHS: dict[int, struct.Struct] = {}


def envelope(header: Any, frames: Sequence[Any]) -> bytes:
    """The envelope as one bytes object.

    Raises:
        ValueError: The header cannot be written as JSON.
    """
    if not frames:
        text = _JSON.encode(header).encode("utf-8")
        fixed = _FIXED.pack(MAGIC, VERSION, len(text), 0)
        return fixed + text + _ZEROS[: _pad(_FIXED.size + len(text))]
    return b"".join(envelope_parts(header, frames))


def envelope_parts(header: Any, frames: Sequence[Any]) -> list[Any]:
    """The envelope as a list of byte-like pieces; ``b"".join(parts)`` is the envelope.

    Raises:
        ValueError: The header cannot be written as JSON.
    """
    text = _JSON.encode(header).encode("utf-8")
    views = [f if type(f) is bytes else frame_view(f) for f in frames]
    lengths = [len(v) for v in views]  # a flat "B" view's len is its size in bytes
    count = len(views)
    prefix = _FIXED.pack(MAGIC, VERSION, len(text), count) + _lengths(count).pack(*lengths)
    prefix += text
    parts: list[Any] = [prefix + _ZEROS[: _pad(len(prefix))]]
    for view, length in zip(views, lengths, strict=True):
        parts.append(view)
        if length % 8:
            parts.append(_ZEROS[: _pad(length)])
    return parts


def envelope_size(parts: Sequence[Any]) -> int:
    """The length in bytes of an envelope given as parts."""
    return sum(p.nbytes if type(p) is memoryview else len(p) for p in parts)


def parse_envelope(data: bytes | bytearray | memoryview) -> tuple[Any, tuple[memoryview, ...]]:
    """The decoded JSON header and the frames (memoryviews of ``data``).

    Raises:
        ValueError: The data is not an envelope (the message starts with "Not a DFM
            token package").
    """
    if type(data) is not bytes:
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        return read_envelope(lambda offset, size: view[offset : offset + size], view.nbytes)
    # The common case, bytes from a socket or a queue: parsed in place.
    size = len(data)
    if size < _FIXED.size:
        raise ValueError("Not a DFM token package: too short")
    magic, version, header_size, count = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"Not a DFM token package: starts with {data[:4]!r}")
    if version != VERSION:
        raise ValueError(f"Not a DFM token package of version {VERSION}: version {version}")
    if count > _MAX_FRAMES:
        raise ValueError(f"Not a DFM token package: {count} frames")
    lengths_end = _FIXED.size + _LENGTH.size * count
    header_end = lengths_end + header_size
    if size < header_end:
        raise ValueError("Not a DFM token package: truncated header")
    lengths = _lengths(count).unpack_from(data, _FIXED.size) if count else ()
    try:
        header = json.loads(data[lengths_end:header_end].decode("utf-8"))
    except ValueError as e:
        raise ValueError(f"Not a DFM token package: invalid JSON header ({e})") from e
    offset = header_end + _pad(header_end)
    if not count:
        if offset != size:
            raise ValueError(
                f"Not a DFM token package: {size} bytes where the envelope says {offset}"
            )
        return header, ()
    view = memoryview(data)
    frames = []
    for length in lengths:
        frames.append(view[offset : offset + length])
        offset += length + _pad(length)
    if offset != size:
        raise ValueError(f"Not a DFM token package: {size} bytes where the envelope says {offset}")
    return header, tuple(frames)


def read_envelope(read_at: Callable[[int, int], Any], size: int) -> tuple[Any, tuple[Any, ...]]:
    """Read an envelope of ``size`` bytes through ``read_at(offset, length)``.

    For envelopes not in memory: a file or shared memory read with ``os.pread`` gives
    each frame as its own ``bytes`` object, with no copy beyond the read.

    Raises:
        ValueError: The data is not an envelope (the message starts with "Not a DFM
            token package").
    """
    if size < _FIXED.size:
        raise ValueError("Not a DFM token package: too short")
    magic, version, header_size, count = _FIXED.unpack(bytes(read_at(0, _FIXED.size)))
    if magic != MAGIC:
        raise ValueError(f"Not a DFM token package: starts with {magic!r}")
    if version != VERSION:
        raise ValueError(f"Not a DFM token package of version {VERSION}: version {version}")
    if count > _MAX_FRAMES:
        raise ValueError(f"Not a DFM token package: {count} frames")
    lengths_end = _FIXED.size + _LENGTH.size * count
    header_end = lengths_end + header_size
    if size < header_end:
        raise ValueError("Not a DFM token package: truncated header")
    prefix = bytes(read_at(_FIXED.size, header_end - _FIXED.size))
    lengths = [_LENGTH.unpack_from(prefix, 8 * i)[0] for i in range(count)]
    try:
        header = json.loads(prefix[lengths_end - _FIXED.size :].decode("utf-8"))
    except ValueError as e:
        raise ValueError(f"Not a DFM token package: invalid JSON header ({e})") from e
    offset = header_end + _pad(header_end)
    ends = []
    for length in lengths:
        ends.append((offset, length))
        offset += length + _pad(length)
    if offset != size:
        raise ValueError(f"Not a DFM token package: {size} bytes where the envelope says {offset}")
    frames = tuple(read_at(start, length) for start, length in ends)
    return header, frames
