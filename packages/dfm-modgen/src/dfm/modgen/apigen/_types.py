"""A small JSON-Schema → Python type mapper, and parameter unions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..config import SCHEMA_REF_PREFIX, InputFlags
from ._errors import GenerationError
from ._source import Imports, py_literal

__all__ = ["TypeMapper", "union_members"]

_BUILTINS = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
}

#: Called for an object schema with properties: (schema, name hint) → type source.
InlineObject = Callable[[dict[str, Any], str], str]


def _dedupe(members: Sequence[str]) -> list[str]:
    out: list[str] = []
    for member in members:
        if member not in out:
            out.append(member)
    if "Any" in out:
        return ["Any"]
    return out


class TypeMapper:
    """Maps JSON-Schema objects to Python type expressions for one module.

    Args:
        imports: The module's import collector.
        schema_type: Returns the type source for a declared schema name (importing
            it as needed).
        inline_object: Builds a model for an object schema with properties; None
            maps such objects to ``dict[str, Any]``.
    """

    def __init__(
        self,
        imports: Imports,
        schema_type: Callable[[str], str],
        inline_object: InlineObject | None = None,
    ) -> None:
        self._imports = imports
        self._schema_type = schema_type
        self._inline_object = inline_object

    def any(self) -> str:
        """The ``Any`` type, imported."""
        return self._imports.name("typing", "Any")

    def members(self, schema: Any, hint: str = "") -> list[str]:
        """The union members of the type a schema describes.

        Args:
            schema: A JSON-Schema object (``True``/``{}`` mean any).
            hint: A name for models built from inline objects.

        Returns:
            Type sources, deduplicated, in order; ``["Any"]`` when unknown.
        """
        if not isinstance(schema, dict) or not schema:
            return [self.any()]
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith(SCHEMA_REF_PREFIX):
                raise GenerationError(f"unresolved $ref {ref!r}")
            return [self._schema_type(ref[len(SCHEMA_REF_PREFIX) :])]
        if "const" in schema:
            return self._literal([schema["const"]])
        if isinstance(schema.get("enum"), list):
            return self._literal(schema["enum"])
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list):
                found: list[str] = []
                for i, sub in enumerate(schema[key]):
                    found.extend(self.members(sub, f"{hint}{i}"))
                return _dedupe(found)
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            return self.members(all_of[0], hint)
        kind = schema.get("type")
        if kind is None and "properties" in schema:
            kind = "object"
        if isinstance(kind, list):
            out: list[str] = []
            for item in kind:
                out.extend(self.members({**schema, "type": item}, hint))
            return _dedupe(out)
        if not isinstance(kind, str):
            return [self.any()]
        return [self._one(kind, schema, hint)]

    def annotation(self, schema: Any, hint: str = "") -> str:
        """The type a schema describes, as one expression.

        Args:
            schema: A JSON-Schema object.
            hint: A name for models built from inline objects.

        Returns:
            Type source, e.g. ``list[str] | None``.
        """
        return " | ".join(self.members(schema, hint))

    def _literal(self, values: list[Any]) -> list[str]:
        scalars = [v for v in values if v is None or isinstance(v, str | int | float | bool)]
        if len(scalars) != len(values) or any(isinstance(v, float) for v in scalars):
            return [self.any()]
        literal = self._imports.name("typing", "Literal")
        items = [v for v in scalars if v is not None]
        out = [f"{literal}[{', '.join(py_literal(v) for v in items)}]"] if items else []
        if None in scalars:
            out.append("None")
        return out

    def _one(self, kind: str, schema: dict[str, Any], hint: str) -> str:
        if kind in _BUILTINS:
            return _BUILTINS[kind]
        if kind == "array":
            items = schema.get("items")
            inner = self.annotation(items, f"{hint}Item") if isinstance(items, dict) else None
            return f"list[{inner or self.any()}]"
        if kind == "object":
            props = schema.get("properties")
            if props and self._inline_object is not None:
                return self._inline_object(schema, hint)
            extra = schema.get("additionalProperties")
            value = self.annotation(extra, f"{hint}Value") if isinstance(extra, dict) else None
            return f"dict[str, {value or self.any()}]"
        if "." in kind:
            module, _, name = kind.rpartition(".")
            return self._imports.name(module, name)
        return self.any()


def union_members(flags: InputFlags, literal: Sequence[str], imports: Imports) -> list[str]:
    """The members of a parameter's type: literal types, NodeParam, PlaceParam, Advise.

    Args:
        flags: Which inputs the parameter accepts.
        literal: The literal types (from the parameter's schema).
        imports: The module's import collector (``dfm.api`` names are added).

    Returns:
        The members in the documented order.
    """
    members: list[str] = []
    if flags.accepts_literal_input:
        members.extend(literal)
    if flags.accepts_node_input:
        members.append(imports.name("dfm.api", "NodeParam"))
    if flags.accepts_place_input:
        members.append(imports.name("dfm.api", "PlaceParam"))
    if flags.discoverable:
        members.append(imports.name("dfm.api", "Advise"))
    return members
