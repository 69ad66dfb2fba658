"""Values with binary data, encoded for the wire with the data out of band.

``encode_payload(value)`` returns a tagged value (as :func:`dfm.api.encode_value`) and
the *frames*: buffers that travel next to the package's JSON header, never inside it
(no base64). Three tags are added to the serializer's:

* ``buffer``: the value is one buffer: ``bytes``, ``bytearray``, ``memoryview``,
  ``array.array``, a ``numpy.ndarray`` of a plain dtype (when numpy is installed; it is
  not a dependency), or any other object with the buffer protocol (it arrives as a
  ``memoryview`` of its bytes, with its format and shape where ``memoryview.cast``
  can express them). The body says which frame and how to rebuild the value.
* ``framed``: lists, tuples and dicts holding buffers: the ``pyjson`` tree (models
  inside as ``["M", …]``) with ``["X", <buffer body>]`` leaves.
* ``pickle5``: a value only pickle can carry: pickle protocol 5, the pickle and its
  out-of-band buffers as frames. Decoded only where the policy allows pickle.

Copies: ``bytes`` are immutable and travel as they are; a mutable buffer is copied
once when it is sent (the sender may change it afterwards). On the receiving side a
frame that already has the right type is the value itself: within one process a
value is copied at most once per hop.
"""

from __future__ import annotations

import array
import importlib
import math
import pickle
import re
from typing import Any, cast

from pydantic import BaseModel

from dfm.api import DecodePolicy, SerializationError, decode_value, encode_value, is_plain_json

from ._wire import frame_view

TaggedValue = tuple[str, Any]
Frames = tuple[Any, ...]

_NO_FRAMES: Frames = ()
_SCALARS = (str, int, bool, type(None))
# The formats memoryview.cast accepts (native, single character).
_CASTABLE = frozenset("bBhHiIlLqQnNfde?cP")
# numpy's dtype.str of plain dtypes: byte order, kind, item size, datetime unit.
_DTYPE = re.compile(r"[<>|=][biufcmMSUV]\d{1,4}(\[[0-9]{0,4}[a-zA-Z]{1,3}\])?")
_ARRAY_CODES = frozenset("bBuhHiIlLqQfd")
_PICKLE_REFUSED = (
    "Refusing to unpickle a value: this site does not allow pickled data. Send JSON-able "
    "values, buffers or pydantic models, or set allow-pickle: true for the site in the "
    "federation config"
)


class _NotATree(Exception):
    """A container holds something only the serializer (or pickle) can carry."""


def _ndarray_type(kind: type) -> bool:
    # numpy is never imported here: an ndarray's type comes from an imported numpy.
    return kind.__name__ == "ndarray" and kind.__module__ == "numpy"


def _plain_dtype(arr: Any) -> bool:
    dtype = arr.dtype
    return not dtype.hasobject and dtype.fields is None and dtype.subdtype is None


def _buffer(value: Any, frames: list[Any]) -> dict[str, Any] | None:
    """The body of a buffer value (its frame appended), or None if it is no buffer."""
    kind = type(value)
    index = len(frames)
    if kind is bytes:
        frames.append(value)
        return {"frame": index, "type": "bytes"}
    if kind is bytearray:
        frames.append(bytearray(value))
        return {"frame": index, "type": "bytearray"}
    if kind is array.array:
        frames.append(value[:])
        return {"frame": index, "type": "array", "typecode": value.typecode}
    if _ndarray_type(kind):
        if not _plain_dtype(value):
            return None  # object or structured dtypes: pickle keeps their meaning
        frames.append(value.copy(order="C"))
        return {
            "frame": index,
            "type": "ndarray",
            "dtype": value.dtype.str,
            "shape": list(value.shape),
        }
    if kind is memoryview:
        view = value
    else:
        try:
            view = memoryview(value)
        except TypeError:
            return None
    frames.append(view.tobytes())
    if view.format in _CASTABLE and view.ndim >= 1 and 0 not in view.shape:
        return {"frame": index, "type": "memoryview", "format": view.format, "shape": [*view.shape]}
    return {"frame": index, "type": "memoryview", "format": "B", "shape": [view.nbytes]}


def _tree(value: Any, frames: list[Any]) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else ["F", repr(value)]
    if kind is list:
        return ["L", [_tree(v, frames) for v in value]]
    if kind is tuple:
        return ["T", [_tree(v, frames) for v in value]]
    if kind is dict:
        return ["D", [[_tree(k, frames), _tree(v, frames)] for k, v in value.items()]]
    if kind in (bytes, bytearray, memoryview, array.array) or _ndarray_type(kind):
        body = _buffer(value, frames)
        if body is not None:
            return ["X", body]
    if isinstance(value, BaseModel):  # a model inside a container: as pyjson's "M"
        cls = type(value)
        if "<locals>" not in cls.__qualname__:
            try:
                data = value.model_dump(mode="json")
            except Exception:
                raise _NotATree from None
            return ["M", {"class": f"{cls.__module__}.{cls.__qualname__}", "data": data}]
    raise _NotATree


def _pickle5(value: Any) -> tuple[TaggedValue, Frames]:
    buffers: list[pickle.PickleBuffer] = []
    try:
        data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception as e:
        raise SerializationError(
            f"Cannot serialize a {type(value).__name__}: it is neither JSON, a pydantic model, "
            f"a buffer nor picklable ({e})"
        ) from e
    # Out-of-band buffers are views of the value's memory: copied, as the sender may
    # change the value once it is sent.
    frames = [data, *(b.raw().tobytes() for b in buffers)]
    return ("pickle5", {"frame": 0, "buffers": list(range(1, len(frames)))}), tuple(frames)


def encode_payload(value: Any) -> tuple[TaggedValue, Frames]:
    """Encode a value for a token package: the tagged value and its frames.

    Raises:
        SerializationError: The value cannot be represented in any form.
    """
    kind = type(value)
    if kind in _SCALARS:
        return ("json", value), _NO_FRAMES
    frames: list[Any] = []
    if kind in (list, dict, tuple):
        if kind is not tuple and is_plain_json(value):
            return ("json", value), _NO_FRAMES
        try:
            tree = _tree(value, frames)
        except _NotATree:
            return encode_value(value), _NO_FRAMES  # a model inside, say: as before
        except RecursionError as e:
            raise SerializationError(f"A {kind.__name__} nested too deeply to send") from e
        if frames:
            return ("framed", tree), tuple(frames)
        return ("pyjson", tree), _NO_FRAMES
    if kind is float or isinstance(value, BaseModel):
        return encode_value(value), _NO_FRAMES
    body = _buffer(value, frames)
    if body is not None:
        return ("buffer", body), tuple(frames)
    tagged = encode_value(value)
    if tagged[0] == "pickle":
        return _pickle5(value)
    return tagged, _NO_FRAMES


# -- decoding --------------------------------------------------------------------------


def _frame(body: Any, frames: Frames) -> Any:
    index = body.get("frame") if isinstance(body, dict) else None
    if type(index) is not int or not 0 <= index < len(frames):
        raise SerializationError(
            f"A buffer names frame {index!r:.20}; the package has {len(frames)}"
        )
    return frames[index]


def _shape(body: dict[str, Any]) -> list[int]:
    shape = body.get("shape")
    if not (isinstance(shape, list) and len(shape) <= 64):
        raise SerializationError(f"Bad buffer shape {shape!r:.60}")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise SerializationError(f"Bad buffer shape {shape!r:.60}")
    return shape


def _readonly_view(frame: Any) -> memoryview:
    return frame_view(frame)


def _ndarray(body: dict[str, Any], frame: Any) -> Any:
    try:
        numpy: Any = importlib.import_module("numpy")
    except ImportError:
        raise SerializationError("Received a numpy array; numpy is not installed here") from None
    dtype_text = body.get("dtype")
    if not (isinstance(dtype_text, str) and _DTYPE.fullmatch(dtype_text)):
        raise SerializationError(f"Refusing numpy dtype {dtype_text!r:.40}: not a plain dtype")
    dtype = numpy.dtype(dtype_text)
    if dtype.hasobject or dtype.fields is not None:
        raise SerializationError(f"Refusing numpy dtype {dtype_text!r}: not a plain dtype")
    shape = _shape(body)
    if isinstance(frame, numpy.ndarray) and frame.dtype == dtype and list(frame.shape) == shape:
        return frame  # handed over within this process: the sender's private copy
    view = _readonly_view(frame)
    data = view if not view.readonly else bytearray(view)  # arrays are writable
    try:
        return numpy.frombuffer(data, dtype=dtype).reshape(shape)
    except ValueError as e:
        raise SerializationError(f"A numpy array does not fit its frame: {e}") from e


def _rebuild(body: Any, frames: Frames) -> Any:
    frame = _frame(body, frames)
    kind = body.get("type")
    if kind == "bytes":
        return frame if type(frame) is bytes else bytes(frame)
    if kind == "bytearray":
        return frame if type(frame) is bytearray else bytearray(frame)
    if kind == "memoryview":
        fmt = body.get("format")
        if not (isinstance(fmt, str) and fmt in _CASTABLE):
            raise SerializationError(f"Bad memoryview format {fmt!r:.20}")
        shape = _shape(body)
        view = _readonly_view(frame)
        try:
            if fmt == "B" and shape == [view.nbytes]:
                return view
            return cast(Any, view).cast(fmt, shape)
        except (TypeError, ValueError) as e:
            raise SerializationError(f"A memoryview does not fit its frame: {e}") from e
    if kind == "array":
        code = body.get("typecode")
        if not (isinstance(code, str) and code in _ARRAY_CODES):
            raise SerializationError(f"Bad array typecode {code!r:.20}")
        if type(frame) is array.array and frame.typecode == code:
            return frame
        result = array.array(code)
        try:
            result.frombytes(frame)
        except ValueError as e:
            raise SerializationError(f"An array does not fit its frame: {e}") from e
        return result
    if kind == "ndarray":
        return _ndarray(body, frame)
    raise SerializationError(f"Unknown buffer type {kind!r:.40}")


def _untree(value: Any, frames: Frames, policy: DecodePolicy) -> Any:
    if not isinstance(value, list):
        return value
    if len(value) != 2 or not isinstance(value[0], str):
        raise SerializationError(f"Malformed framed value {value!r:.80}")
    tag, body = value
    if tag == "X":
        return _rebuild(body, frames)
    if tag == "M":  # a model, under the policy's rule for models
        return decode_value(("model", body), policy)
    if tag == "F":
        if body not in ("nan", "inf", "-inf"):
            raise SerializationError(f"Malformed float {body!r:.40}")
        return float(body)
    if not isinstance(body, list):
        raise SerializationError(f"Malformed framed value {value!r:.80}")
    if tag == "L":
        return [_untree(v, frames, policy) for v in body]
    if tag == "T":
        return tuple(_untree(v, frames, policy) for v in body)
    if tag == "D":
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise SerializationError(f"Malformed framed mapping {value!r:.80}")
        return {_untree(k, frames, policy): _untree(v, frames, policy) for k, v in body}
    raise SerializationError(f"Unknown framed container tag {tag!r:.20}")


def decode_payload(tagged: TaggedValue, frames: Frames, policy: DecodePolicy) -> Any:
    """Decode what :func:`encode_payload` produced, under ``policy``.

    Raises:
        SerializationError: The value is malformed, or the policy refuses it (a pickle
            where pickle is not allowed, a model class from a module not allowed).
    """
    tag, body = tagged
    if tag == "json":
        return body
    if tag == "buffer":
        if not isinstance(body, dict):
            raise SerializationError(f"Malformed buffer value {body!r:.80}")
        return _rebuild(body, frames)
    if tag == "framed":
        try:
            return _untree(body, frames, policy)
        except RecursionError as e:
            raise SerializationError("A framed value nested too deeply") from e
    if tag == "pickle5":
        if not policy.allow_pickle:
            raise SerializationError(_PICKLE_REFUSED)
        data = _frame(body, frames)
        indexes = body.get("buffers", [])
        if not isinstance(indexes, list):
            raise SerializationError("Malformed pickle5 value")
        buffers = [_frame({"frame": i}, frames) for i in indexes]
        return pickle.loads(data, buffers=buffers)
    return decode_value(tagged, policy)
