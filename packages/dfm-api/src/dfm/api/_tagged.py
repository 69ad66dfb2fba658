"""The one serializer for values that cross a site boundary.

``encode_value`` turns any value into a *tagged value* ``(tag, json)``:

* ``json``: plain JSON (None, bool, int, finite float, str, lists, str-keyed dicts);
* ``pyjson``: JSON plus what plain JSON loses — tuples, non-str dict keys, bytes,
  non-finite floats and pydantic models inside containers — with every container
  tagged (``["L", …]``, ``["T", …]``, ``["D", [[k, v], …]]``, ``["B", b64]``,
  ``["F", "nan"]``, ``["M", {"class": …, "data": …}]``);
* ``model``: a pydantic model by class path and JSON data (``stop``, ``flow`` and
  ``skip`` are short forms of the control tokens, which cross sites with every frame);
* ``bytes``: base64;
* ``pickle``: base64 pickle of anything else.

``decode_value`` reverses it under a :class:`DecodePolicy`: pickles are only loaded when
the policy allows them, and model classes are only imported from modules the policy
allows (classes trusted in this process need no import). The default policy accepts
only inert data.
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
from ._polymorphic import is_dotted_path, trusted_class
from ._tokens import SkipToken, StopToken

_SCALARS = (str, int, bool, type(None))


class SerializationError(ValueError):
    """A value cannot be encoded, or a tagged value cannot be decoded here."""


@dataclass(frozen=True)
class DecodePolicy:
    """What a receiving side accepts; the default accepts only inert data.

    Plain JSON, the ``pyjson``/``bytes`` forms and DFM's control tokens are always
    decoded: they are data. The two forms that can run code are refused unless the
    policy allows them:

    * ``pickle`` values, unless ``allow_pickle``;
    * ``model`` values whose class is neither trusted in this process (see
      :func:`trust_classes`) nor in a module under ``dfm`` or one of ``allow_modules``
      (checked before anything is imported), unless ``trust_all_modules``.

    Attributes:
        allow_pickle: Load ``pickle`` values (only within one trust domain: unpickling
            runs whatever code the sender chose).
        allow_modules: Module prefixes (``"pkg"`` or ``"pkg.models"``) whose pydantic
            models may be imported and built; a prefix matches whole module names only.
        trust_all_modules: Import model classes from any module.

    Raises:
        ValueError: An entry of ``allow_modules`` is not a dotted module path.
    """

    allow_pickle: bool = False
    allow_modules: tuple[str, ...] = ()
    trust_all_modules: bool = False

    def __post_init__(self) -> None:
        """Check the prefixes (a list is accepted and stored as a tuple)."""
        prefixes = tuple(self.allow_modules)
        bad = [p for p in prefixes if not (isinstance(p, str) and is_dotted_path(p))]
        if bad:
            raise ValueError(
                f"DecodePolicy.allow_modules: {bad[0]!r} is not a dotted module path like "
                "'pkg.models'"
            )
        object.__setattr__(self, "allow_modules", prefixes)

    def allows_module(self, module: str) -> bool:
        """Whether model classes of ``module`` may be imported under this policy."""
        if self.trust_all_modules:
            return True
        parts = module.split(".")
        prefixes = ("dfm", *self.allow_modules)
        return any(".".join(parts[:i]) in prefixes for i in range(1, len(parts) + 1))


TRUSTED = DecodePolicy(allow_pickle=True, trust_all_modules=True)
"""Accepts everything, pickles included: only for data from one's own trust domain."""


def is_plain_json(value: Any) -> bool:
    """Whether plain JSON carries ``value`` unchanged (finite floats, str keys only).

    Exact types only (a ``bool`` subclass or a ``tuple`` is not plain): the serializer
    and the sites' wire use it to take the fast path.
    """
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(is_plain_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and is_plain_json(v) for k, v in value.items())
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
    if isinstance(value, BaseModel):
        # Models inside containers (e.g. the [(NodeId, advice), …] lists of discovery)
        # travel as JSON like top-level ones, not as a pickle of the whole container.
        return ["M", _model_body(value)]
    raise _NotPyJson


def _model_body(value: BaseModel) -> dict[str, Any]:
    cls = type(value)
    if "<locals>" in cls.__qualname__:
        raise _NotPyJson
    try:
        data = value.model_dump(mode="json")
    except Exception:
        raise _NotPyJson from None
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "data": data}


def _from_pyjson(value: Any, policy: DecodePolicy) -> Any:
    if not isinstance(value, list):
        return value
    if len(value) != 2 or not isinstance(value[0], str):
        raise SerializationError(f"Malformed pyjson container {value!r:.80}")
    tag, body = value
    if tag in ("L", "T", "D") and not isinstance(body, list):
        raise SerializationError(f"Malformed pyjson container {value!r:.80}")
    if tag == "L":
        return [_from_pyjson(v, policy) for v in body]
    if tag == "T":
        return tuple(_from_pyjson(v, policy) for v in body)
    if tag == "D":
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise SerializationError(f"Malformed pyjson mapping {value!r:.80}")
        return {_from_pyjson(k, policy): _from_pyjson(v, policy) for k, v in body}
    if tag == "B":
        return base64.b64decode(body)
    if tag == "F":
        if body not in ("nan", "inf", "-inf"):
            raise SerializationError(f"Malformed pyjson float {body!r:.80}")
        return float(body)
    if tag == "M":
        return _decode_model(body, policy)
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
    if is_plain_json(value):
        return ("json", value)
    kind = type(value)
    if kind is StopToken:
        return ("stop", None)
    if kind is FlowInfo:
        return ("flow", value.hint)
    if kind is SkipToken:
        return ("skip", None)
    if isinstance(value, BaseModel):
        try:
            return ("model", _model_body(value))
        except _NotPyJson:
            return _pickle(value)
    if type(value) is bytes:
        return ("bytes", base64.b64encode(value).decode("ascii"))
    try:
        return ("pyjson", _to_pyjson(value))
    except _NotPyJson:
        return _pickle(value)


_STOP = StopToken()
_FLOW = FlowInfo()
_SKIP = SkipToken()
_RESTRICTIVE = DecodePolicy()
_imported: dict[str, Any] = {}


def _model_path(body: Any) -> str:
    path = body.get("class") if isinstance(body, dict) else None
    # Module names need not be identifiers (pytest imports test files as
    # "packages.dfm-x.tests.test_y"); a policy's prefixes are, and are checked first.
    if not (isinstance(path, str) and "." in path and all(path.split("."))):
        raise SerializationError(
            f"A model value must be {{'class': 'module.Class', 'data': ...}}, got {body!r:.80}"
        )
    return path


def model_class(path: str, policy: DecodePolicy) -> type[BaseModel]:
    """The pydantic model class named ``path``, if ``policy`` lets it be used here.

    A class trusted in this process is used as it is; otherwise the module is imported
    only when the policy allows it (the check comes first).

    Raises:
        SerializationError: The policy refuses the module, or the path names no
            pydantic model.
    """
    cls: Any = trusted_class(path)
    if cls is None:
        module, _, qualname = path.rpartition(".")
        if not policy.allows_module(module):
            allowed = ", ".join(("dfm", *policy.allow_modules))
            raise SerializationError(
                f"Refusing to load model class {path!r}: module {module!r} is not allowed here "
                f"(allowed: {allowed}); list its package under the site's allow-modules in "
                "the federation config"
            )
        cls = _imported.get(path)
        if cls is None:
            try:
                found: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    found = getattr(found, part)
            except Exception as e:  # an allowed module that fails to import, too
                raise SerializationError(
                    f"Cannot load model class {path!r}: {type(e).__name__}: {e}"
                ) from e
            cls = _imported[path] = found
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise SerializationError(f"Refusing to load {path!r}: it is not a pydantic model class")
    return cls


def _decode_model(body: Any, policy: DecodePolicy) -> Any:
    # A top-level ``model`` value and an ``M`` item of a pyjson container alike.
    cls = model_class(_model_path(body), policy)
    return cls.model_validate(body.get("data"))


def decode_value(tagged: Any, policy: DecodePolicy = _RESTRICTIVE) -> Any:
    """Decode a tagged value produced by :func:`encode_value`.

    Args:
        tagged: ``(tag, json)``.
        policy: What may be decoded; the default refuses pickles and model classes
            outside ``dfm`` that are not trusted in this process.

    Raises:
        SerializationError: Unknown tag, malformed value, or a pickle / model class the
            policy refuses.
    """
    if not (isinstance(tagged, (tuple, list)) and len(tagged) == 2):
        raise SerializationError(f"A tagged value is a (tag, json) pair, got {tagged!r:.80}")
    tag, body = tagged
    if tag == "json":
        return body
    if tag == "stop":
        return _STOP
    if tag == "flow":
        return _FLOW if body is None else FlowInfo(hint=body)
    if tag == "skip":
        return _SKIP
    if tag == "pyjson":
        return _from_pyjson(body, policy)
    if tag == "model":
        return _decode_model(body, policy)
    if tag == "bytes":
        return base64.b64decode(body)
    if tag == "pickle":
        if not policy.allow_pickle:
            raise SerializationError(
                "Refusing to unpickle a value: this site does not allow pickled data. Send "
                "JSON-able values or pydantic models, or set allow-pickle: true for the site "
                "in the federation config"
            )
        return pickle.loads(base64.b64decode(body))
    raise SerializationError(f"Unknown value tag {tag!r}")
