"""The one serializer for values that cross a site boundary.

``encode_value`` turns any value into a *tagged value* ``(tag, json)``:

* ``json``: plain JSON (None, bool, int, finite float, str, lists, str-keyed dicts);
* ``pyjson``: JSON plus what plain JSON loses — tuples, non-str dict keys, bytes and
  non-finite floats — with every container tagged (``["L", …]``, ``["T", …]``,
  ``["D", [[k, v], …]]``, ``["B", b64]``, ``["F", "nan"]``);
* ``model``: a pydantic model by class path and JSON data (``stop`` and ``flow`` are
  short forms of the two control tokens, which cross sites with every frame);
* ``bytes``: base64;
* ``pickle``: base64 pickle of anything else.

``decode_value`` reverses it. Pickles are only loaded when the receiving side allows it,
and model classes only come from allowed modules (see ``allow_module_prefix``).
"""

from __future__ import annotations

import base64
import importlib
import math
import pickle
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ._frame import FlowInfo
from ._polymorphic import is_module_allowed, resolve_class
from ._tokens import StopToken

_SCALARS = (str, int, bool, type(None))


class SerializationError(ValueError):
    """A value cannot be encoded, or a tagged value cannot be decoded here."""


@dataclass(frozen=True)
class DecodePolicy:
    """What a receiving side accepts.

    Attributes:
        allow_pickle: Load ``pickle`` values (only within one trust domain).
        trust_all_modules: Resolve model classes from any module, not only allowed ones.
    """

    allow_pickle: bool = False
    trust_all_modules: bool = False


TRUSTED = DecodePolicy(allow_pickle=True, trust_all_modules=True)


def is_plain_json(value: Any) -> bool:
    """Whether plain JSON carries ``value`` unchanged (finite floats, str keys only)."""
    return _is_plain_json(value)


def _is_plain_json(value: Any) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _is_plain_json(v) for k, v in value.items())
    return False


class _NotPyJson(Exception):
    pass


def _to_pyjson(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else ["F", repr(value)]
    if kind is list:
        return ["L", [_to_pyjson(v) for v in value]]
    if kind is tuple:
        return ["T", [_to_pyjson(v) for v in value]]
    if kind is dict:
        return ["D", [[_to_pyjson(k), _to_pyjson(v)] for k, v in value.items()]]
    if kind is bytes:
        return ["B", base64.b64encode(value).decode("ascii")]
    raise _NotPyJson


def _from_pyjson(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    tag, body = value
    if tag == "L":
        return [_from_pyjson(v) for v in body]
    if tag == "T":
        return tuple(_from_pyjson(v) for v in body)
    if tag == "D":
        return {_from_pyjson(k): _from_pyjson(v) for k, v in body}
    if tag == "B":
        return base64.b64decode(body)
    if tag == "F":
        return float(body)
    raise SerializationError(f"Unknown pyjson container tag {tag!r}")


def _pickle(value: Any) -> tuple[str, Any]:
    try:
        payload = pickle.dumps(value)
    except Exception as e:
        raise SerializationError(
            f"Cannot serialize a {type(value).__name__}: it is neither JSON, a pydantic model, "
            f"bytes nor picklable ({e})"
        ) from e
    return ("pickle", base64.b64encode(payload).decode("ascii"))


def encode_value(value: Any) -> tuple[str, Any]:
    """Encode a value for transport; see the module docstring for the forms.

    Raises:
        SerializationError: The value cannot be represented in any form.
    """
    if _is_plain_json(value):
        return ("json", value)
    kind = type(value)
    if kind is StopToken:
        return ("stop", None)
    if kind is FlowInfo:
        return ("flow", value.hint)
    if isinstance(value, BaseModel):
        cls = type(value)
        if "<locals>" not in cls.__qualname__:
            try:
                data = value.model_dump(mode="json")
            except Exception:
                return _pickle(value)
            return ("model", {"class": f"{cls.__module__}.{cls.__qualname__}", "data": data})
        return _pickle(value)
    if type(value) is bytes:
        return ("bytes", base64.b64encode(value).decode("ascii"))
    try:
        return ("pyjson", _to_pyjson(value))
    except _NotPyJson:
        return _pickle(value)


_STOP = StopToken()
_FLOW = FlowInfo()
_trusted_classes: dict[str, Any] = {}


def _import_class(path: str) -> Any:
    module_name, _, qualname = path.rpartition(".")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def decode_value(tagged: Any, policy: DecodePolicy = TRUSTED) -> Any:
    """Decode a tagged value produced by :func:`encode_value`.

    Raises:
        SerializationError: Unknown tag, or a pickle / model class the policy refuses.
    """
    tag, body = tagged
    if tag == "json":
        return body
    if tag == "stop":
        return _STOP
    if tag == "flow":
        return _FLOW if body is None else FlowInfo(hint=body)
    if tag == "pyjson":
        return _from_pyjson(body)
    if tag == "model":
        path = body["class"]
        module = path.rpartition(".")[0]
        if not (policy.trust_all_modules or is_module_allowed(module)):
            raise SerializationError(
                f"Refusing to load model class {path!r}: its module is not allowed here; "
                f"call dfm.api.allow_module_prefix({module.split('.')[0]!r}) on this site"
            )
        cls = _trusted_classes.get(path) if policy.trust_all_modules else None
        if cls is None:
            cls = _import_class(path) if policy.trust_all_modules else resolve_class(path)
            if policy.trust_all_modules:
                _trusted_classes[path] = cls
        return cls.model_validate(body["data"])
    if tag == "bytes":
        return base64.b64decode(body)
    if tag == "pickle":
        if not policy.allow_pickle:
            raise SerializationError(
                "Refusing to unpickle a value: this site does not allow pickled data. Send "
                "JSON-able values or pydantic models, or allow pickle in the site's config"
            )
        return pickle.loads(base64.b64decode(body))
    raise SerializationError(f"Unknown value tag {tag!r}")
