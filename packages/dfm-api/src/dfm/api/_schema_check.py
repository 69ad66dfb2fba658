"""Checking Python values against the JSON Schema of an operation parameter.

A small, dependency-free subset of JSON Schema, read the way DFM maps schemas to Python
types: ``integer`` is an ``int`` (never a ``bool`` nor a ``float``, not even ``2.0``),
``number`` an ``int`` or ``float`` (not a ``bool``), ``boolean`` a ``bool``, ``string`` a
``str``, ``null`` ``None``, ``array`` a list or tuple, ``object`` a str-keyed mapping
or a pydantic model (checked in its JSON form); a dotted ``type`` such as
``pkg.mod.Model`` (DFM's extension) is an instance of that class.

Checked keywords: ``type``, ``nullable``, ``enum``, ``const``, ``items``,
``prefixItems``, ``minItems``, ``maxItems``, ``properties``, ``required``,
``additionalProperties``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``multipleOf``, ``minLength``, ``maxLength``, ``pattern``,
``anyOf``, ``oneOf`` (as ``anyOf``: at least one), ``allOf``, ``not`` and ``$ref`` to
``#/$defs/<name>`` or ``#/definitions/<name>`` of the same schema. Other keywords
(``format``, ``description`` ...) are ignored, and so is a ``$ref`` that cannot be
resolved: what cannot be checked is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._schema_keywords import KEYWORDS, Check
from ._schema_values import BUILTIN_TYPES, describe, got, has_class, is_encoded, where


class ValueSchema:
    """A JSON Schema compiled for checking values (see the module docstring).

    Args:
        schema: The schema (a mapping, or ``True``/``False``).
    """

    def __init__(self, schema: Any) -> None:
        """Compile ``schema``."""
        self.schema = schema
        self._root = schema if isinstance(schema, Mapping) else {}
        self._refs: dict[str, Check] = {}
        self._check = self.compile(schema)

    def problems(self, value: Any) -> list[str]:
        """What is wrong with ``value``: one message per problem, empty when it conforms.

        Each message says where (``[0].name: `` inside containers), what was expected
        and what was given, e.g. ``expected integer, got float 2.5``.
        """
        out: list[str] = []
        self._check(value, "", out)
        return out

    def describe(self) -> str:
        """What the schema expects, in a few words (``integer or null``)."""
        return describe(self.schema)

    def compile(self, schema: Any) -> Check:
        """Compile a (sub-)schema of this schema; ``$ref`` resolves against the root."""
        if schema is True or schema == {}:
            return _accept
        if schema is False:
            return _refuse
        if not isinstance(schema, Mapping):
            return _accept
        checks: list[Check] = []
        ref = schema.get("$ref")
        if isinstance(ref, str):
            checks.append(self._ref(ref))
        kinds = self._types(schema)
        if kinds is not None:
            checks.append(kinds)
        for keyword, make in KEYWORDS.items():
            if keyword in schema:
                built = make(self, schema)
                if built is not None:
                    checks.append(built)
        return _all(checks, schema.get("nullable") is True)

    def _ref(self, ref: str) -> Check:
        found = self._refs.get(ref)
        if found is not None:
            return found
        target = _resolve(self._root, ref)
        if target is None:
            return _accept

        def check(value: Any, path: str, out: list[str]) -> None:
            compiled(value, path, out)

        # Registered before compiling so that recursive schemas terminate.
        self._refs[ref] = check
        compiled = self.compile(target)
        return check

    def _types(self, schema: Mapping[str, Any]) -> Check | None:
        kind = schema.get("type")
        names = [kind] if isinstance(kind, str) else kind
        if not isinstance(names, list) or not names:
            return None
        tests: list[Callable[[Any], bool]] = []
        for name in names:
            if not isinstance(name, str):
                return None
            if name in BUILTIN_TYPES:
                tests.append(BUILTIN_TYPES[name])
            elif "." in name:
                tests.append(_class_test(name))
            else:
                return None  # an unknown type name: not checkable
        expected = describe({"type": names, "nullable": schema.get("nullable")})

        def check(value: Any, path: str, out: list[str]) -> None:
            if not any(test(value) for test in tests):
                out.append(f"{where(path)}expected {expected}, got {got(value)}")

        return check


def _class_test(path: str) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        return has_class(value, path)

    return test


def _accept(value: Any, path: str, out: list[str]) -> None:
    return None


def _refuse(value: Any, path: str, out: list[str]) -> None:
    out.append(f"{where(path)}no value is allowed here, got {got(value)}")


def _all(checks: list[Check], nullable: bool) -> Check:
    if not checks:
        return _accept

    def check(value: Any, path: str, out: list[str]) -> None:
        if (nullable and value is None) or is_encoded(value):
            return
        for one in checks:
            one(value, path, out)

    if len(checks) == 1 and not nullable:
        only = checks[0]

        def single(value: Any, path: str, out: list[str]) -> None:
            if not is_encoded(value):
                only(value, path, out)

        return single
    return check


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            defs = root.get(prefix[2:-1])
            if isinstance(defs, Mapping):
                return defs.get(ref[len(prefix) :].replace("~1", "/").replace("~0", "~"))
    return None


def schema_problems(value: Any, schema: Any) -> list[str]:
    """What is wrong with ``value`` under ``schema`` (see :class:`ValueSchema`).

    Compile a :class:`ValueSchema` once instead when checking many values.
    """
    return ValueSchema(schema).problems(value)
