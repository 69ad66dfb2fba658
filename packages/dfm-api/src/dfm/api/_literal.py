"""EncodedLiteral: a pipeline literal that stays encoded until a site decodes it.

Loading a pipeline is inert. A literal whose encoded form could run code when decoded
(a ``pickle``, a ``PickledObject``, or a ``model`` whose class is neither trusted here
nor allowed) is kept as an :class:`EncodedLiteral`: it round-trips unchanged, compares
equal to the value it encodes, and the compiler passes its payload through untouched, so
the site that runs the operation decodes it under its own policy.
"""

from __future__ import annotations

import base64
import io
import pickle
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

from ._polymorphic import allowed_prefixes
from ._tagged import (
    TRUSTED,
    DecodePolicy,
    SerializationError,
    decode_value,
    encode_value,
    model_class,
)
from ._tokens import PICKLED_TAG, PickledObject

#: The tag of a literal written in the serializer's tagged form in pipeline JSON.
TAGGED_LITERAL = "__dfm__value__"


class EncodedLiteral(BaseModel):
    """A literal kept in its tagged form ``(tag, json)``; see the module docstring.

    Its JSON is the form it was read from: ``{"tag": "__dfm__value__", "value": [tag,
    json]}``, or ``{"tag": "__dfm__pickled__", "value": <base64>}`` for a
    ``PickledObject`` (``pickled_object=True``).

    Args:
        tagged: The encoded value, as :func:`dfm.api.encode_value` makes it.
        pickled_object: It was written as a :class:`PickledObject`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tagged: tuple[str, Any]
    pickled_object: bool = False

    def __init__(
        self, tagged: tuple[str, Any] | None = None, /, pickled_object: bool = False, **data: Any
    ) -> None:
        """Wrap a tagged value (positionally, or ``tagged=`` as pydantic passes it)."""
        if tagged is not None:
            data["tagged"] = tuple(tagged)
        super().__init__(pickled_object=pickled_object, **data)

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) == {"tag", "value"}:
            if data["tag"] == PICKLED_TAG:
                return {"tagged": ("pickle", data["value"]), "pickled_object": True}
            if data["tag"] == TAGGED_LITERAL:
                return {"tagged": data["value"]}
        return data

    @model_serializer(mode="plain")
    def _to_wire(self) -> dict[str, Any]:
        if self.pickled_object:
            return {"tag": PICKLED_TAG, "value": self.tagged[1]}
        return {"tag": TAGGED_LITERAL, "value": list(self.tagged)}

    @property
    def tag(self) -> str:
        """The form of the value: ``pickle`` or ``model``."""
        return self.tagged[0]

    def decode(self, policy: DecodePolicy) -> Any:
        """The value, decoded under ``policy`` (a ``PickledObject`` gives its value).

        Raises:
            SerializationError: The policy refuses the value.
        """
        return decode_value(self.tagged, policy)

    def __eq__(self, other: object) -> bool:
        """Equal to the same encoding, or to a value (or PickledObject) that encodes so."""
        if isinstance(other, EncodedLiteral):
            return self.tagged == other.tagged
        try:
            if isinstance(other, PickledObject):
                return _pickle_form(other.value) == self.tagged
            return encode_value(other) == self.tagged
        except Exception:
            return False

    def __hash__(self) -> int:
        """Hash of the tag and payload text."""
        return hash((self.tagged[0], repr(self.tagged[1])))

    def __repr__(self) -> str:
        """``EncodedLiteral('pickle', …)`` without the (possibly huge) payload."""
        return f"EncodedLiteral({self.tagged[0]!r}, <{len(repr(self.tagged[1]))} chars>)"


def _pickle_form(value: Any) -> tuple[str, Any]:
    return ("pickle", base64.b64encode(pickle.dumps(value)).decode("ascii"))


def load_tagged_literal(raw: Any) -> Any:
    """The value of a ``{"tag": "__dfm__value__", "value": raw}`` literal, inertly.

    Plain data (json, pyjson, bytes, control tokens) is decoded; a ``model`` is decoded
    when its class is trusted here or allowed by the process's allow-list (see
    ``allow_module_prefix``), checked before any import; anything else stays an
    :class:`EncodedLiteral`.

    Raises:
        SerializationError: The value is malformed.
    """
    if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str)):
        raise SerializationError(f"A tagged literal's value is [tag, json], got {raw!r:.80}")
    tag, body = raw
    if tag == "pickle":
        if not isinstance(body, str):
            raise SerializationError("A pickled literal's value must be a base64 string")
        return EncodedLiteral((tag, body))
    if tag == "model":
        policy = DecodePolicy(allow_modules=allowed_prefixes())
        path = body.get("class") if isinstance(body, dict) else None
        try:
            cls = model_class(str(path), policy)
        except SerializationError:
            return EncodedLiteral((tag, body))
        return cls.model_validate(body.get("data"))
    return decode_value((tag, body), DecodePolicy())


def load_pickled_object(data: dict[str, Any]) -> EncodedLiteral:
    """A ``PickledObject``'s JSON form, kept encoded.

    Raises:
        SerializationError: The payload is not a base64 string.
    """
    payload = data.get("value")
    if not isinstance(payload, str):
        raise SerializationError("A pickled object's value must be a base64 string")
    return EncodedLiteral(("pickle", payload), pickled_object=True)


def holds_encoded(value: Any) -> bool:
    """Whether ``value`` is or contains (in lists, tuples, sets, dicts) an EncodedLiteral."""
    if isinstance(value, EncodedLiteral):
        return True
    if isinstance(value, dict):
        return any(holds_encoded(k) or holds_encoded(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds_encoded(v) for v in value)
    return False


def _revive(tagged: tuple[str, Any], pickled_object: bool) -> Any:
    # Only ever called by unpickling, i.e. at a site that allows pickle: such a site
    # trusts the sender with everything, so the nested value may be decoded fully.
    value = decode_value(tagged, TRUSTED)
    return PickledObject(value) if pickled_object else value


class _NestedPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, EncodedLiteral):
            return (_revive, (obj.tagged, obj.pickled_object))
        return NotImplemented


def encode_literal(value: Any) -> tuple[str, Any]:
    """Encode a pipeline literal for a NetIR, leaving encoded literals as they are.

    An :class:`EncodedLiteral` gives its payload unchanged; a :class:`PickledObject`
    its value's encoding. A container holding encoded literals becomes one pickle
    that, at a site allowing pickle, decodes them in place (nothing is decoded here).

    Raises:
        SerializationError: The value cannot be encoded.
    """
    if isinstance(value, EncodedLiteral):
        return value.tagged
    if isinstance(value, PickledObject):
        value = value.value
    if not holds_encoded(value):
        return encode_value(value)
    buffer = io.BytesIO()
    try:
        _NestedPickler(buffer).dump(value)
    except Exception as e:
        raise SerializationError(f"Cannot serialize a {type(value).__name__}: {e}") from e
    return ("pickle", base64.b64encode(buffer.getvalue()).decode("ascii"))
