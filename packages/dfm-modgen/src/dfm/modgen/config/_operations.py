"""``operations:``: operation objects and their parameter specs."""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationInfo, model_validator

from ._common import ConfigModel, DottedPath, TypeList, is_identifier

__all__ = [
    "SCHEMA_KEYWORDS",
    "InputFlags",
    "OperationConfig",
    "ParameterSpec",
    "check_operation_name",
    "check_parameter_name",
    "parameter_problems",
]

#: JSON-Schema keywords a parameter spec may carry besides the DFM keys; they only
#: shape the literal type of the parameter. Keys starting with ``x-`` are also kept.
SCHEMA_KEYWORDS = frozenset(
    {
        "$comment", "$defs", "$id", "$schema", "additionalProperties", "allOf",
        "anyOf", "const", "contentEncoding", "contentMediaType", "definitions",
        "deprecated", "enum", "examples", "exclusiveMaximum", "exclusiveMinimum",
        "format", "items", "maxItems", "maxLength", "maxProperties", "maximum",
        "minItems", "minLength", "minProperties", "minimum", "multipleOf", "not",
        "nullable", "oneOf", "pattern", "patternProperties", "prefixItems",
        "properties", "readOnly", "required", "title", "uniqueItems", "writeOnly",
    }
)  # fmt: skip

# Fields every generated operation already has (dfm.api Located/Statement).
_RESERVED_PARAMS = frozenset({"site", "provider"})


class InputFlags(ConfigModel):
    """What a parameter accepts; each flag adds a member to the generated union.

    Attributes:
        accepts_literal_input: A literal value of the declared type.
        accepts_node_input: The output of another pipeline node (``NodeParam``).
        accepts_place_input: A named input place filled at execute time
            (``PlaceParam``).
        discoverable: An ``Advise()`` placeholder for discovery.
    """

    accepts_literal_input: bool = Field(True, alias="accepts-literal-input")
    accepts_node_input: bool = Field(True, alias="accepts-node-input")
    accepts_place_input: bool = Field(True, alias="accepts-place-input")
    discoverable: bool = True

    def accepts_nothing(self) -> bool:
        """Tell whether no input kind is allowed (``discoverable`` alone is not enough).

        Returns:
            True when the literal, node and place flags are all false.
        """
        return not (
            self.accepts_literal_input or self.accepts_node_input or self.accepts_place_input
        )


class ParameterSpec(InputFlags):
    """One operation parameter: a JSON-Schema object plus the DFM flags.

    Attributes:
        description: Shown in the generated docstring.
        type: JSON builtin names and/or dotted class paths (a single name is
            stored as a one-element list); None means "any".
        default: Default of a non-required parameter (only when given; see
            `has_default`).
        ref: ``#/schemas/<name>`` when the parameter's type is a declared schema.
        keywords: Further JSON-Schema keywords (``items``, ``enum``, ``oneOf`` ...).
    """

    description: str | None = None
    type: TypeList | None = None
    default: Any = None
    ref: str | None = Field(None, alias="$ref")
    keywords: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_keywords(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "keywords" in data:
            return data
        moved = {k: v for k, v in data.items() if _is_schema_keyword(k)}
        if not moved:
            return data
        rest = {k: v for k, v in data.items() if k not in moved}
        rest["keywords"] = moved
        return rest

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> ParameterSpec:
        # The loader runs these checks on the raw data itself, so that they are
        # reported even when a field is wrong (this validator then does not run).
        if info.context and info.context.get("dfm_loader"):
            return self
        for message in _cross_problems(
            self.accepts_nothing(), self.ref is not None and self.type is not None
        ):
            raise ValueError(message)
        return self

    @property
    def has_default(self) -> bool:
        """Whether the YAML declared ``default:``."""
        return "default" in self.model_fields_set

    def json_schema(self) -> dict[str, Any]:
        """The JSON-Schema part that determines the literal type.

        Returns:
            ``type``/``$ref`` plus the other JSON-Schema keywords.
        """
        out: dict[str, Any] = dict(self.keywords)
        if self.type is not None:
            out["type"] = list(self.type)
        if self.ref is not None:
            out["$ref"] = self.ref
        return out


_ACCEPTS_NOTHING = (
    "the parameter accepts nothing: at least one of accepts-literal-input, "
    "accepts-node-input, accepts-place-input must be true"
)
_REF_AND_TYPE = "give either '$ref' or 'type', not both"


def _cross_problems(accepts_nothing: bool, ref_and_type: bool) -> list[str]:
    found = ((_ACCEPTS_NOTHING, accepts_nothing), (_REF_AND_TYPE, ref_and_type))
    return [message for message, bad in found if bad]


def parameter_problems(data: dict[Any, Any]) -> list[str]:
    """The checks of a parameter spec that involve several keys, on the raw data.

    They do not depend on the other keys being valid: a flag counts as false only
    when it is literally ``false``.

    Args:
        data: The (normalised) parameter spec.

    Returns:
        The messages, for the parameter's own path.
    """
    fields = InputFlags.model_fields
    flags = ("accepts_literal_input", "accepts_node_input", "accepts_place_input")
    off = [data.get(fields[f].alias or f, data.get(f, True)) is False for f in flags]
    return _cross_problems(all(off), "$ref" in data and "type" in data)


def _is_schema_keyword(key: Any) -> bool:
    return isinstance(key, str) and (key in SCHEMA_KEYWORDS or key.startswith("x-"))


class OperationConfig(ConfigModel):
    """An operation (a JSON-Schema object of fixed shape).

    Attributes:
        description: Docstring of the generated class.
        parameters: Parameter name to spec, in declaration order (YAML key
            ``parameters``, or its JSON-Schema spelling ``properties``).
        required: Names of required parameters; names that are not parameters are
            ignored.
        returns: Dotted name of the result type; documentation only.
        type: Always ``object``.
    """

    description: str | None = None
    parameters: dict[str, ParameterSpec] = Field(
        default_factory=dict, validation_alias=AliasChoices("parameters", "properties")
    )
    required: list[str] = Field(default_factory=list)
    returns: DottedPath
    type: Literal["object"] = "object"

    def is_required(self, name: str) -> bool:
        """Tell whether a parameter is required.

        Args:
            name: The parameter name.

        Returns:
            True when ``name`` is listed in ``required``.
        """
        return name in self.required


def check_operation_name(name: str) -> str | None:
    """Check an operation name such as ``users.GreetMe``.

    Args:
        name: The operation key.

    Returns:
        An error message, or None when the name is fine.
    """
    parts = name.split(".")
    if not all(is_identifier(p) for p in parts):
        return (
            f"operation name {name!r} must be dot-separated Python identifiers "
            "(like 'users.GreetMe')"
        )
    if any(p.startswith("_") for p in parts):
        return f"operation name {name!r}: parts must not start with '_'"
    return None


@functools.cache
def _reserved_attributes() -> frozenset[str]:
    names = set(dir(BaseModel))
    try:
        from dfm.api import Operation
    except ImportError:  # pragma: no cover - dfm-api is a dependency
        pass
    else:
        names.update(dir(Operation))
        names.update(Operation.model_fields)
    return frozenset(names)


def check_parameter_name(name: str) -> str | None:
    """Check a parameter (or exposed parameter) name.

    It becomes a pydantic field of the generated operation class, so it must be an
    identifier that does not shadow an attribute of ``Operation``.

    Args:
        name: The parameter name.

    Returns:
        An error message, or None when the name is fine.
    """
    if not is_identifier(name):
        return f"parameter name {name!r} must be a Python identifier"
    if name.startswith(("_", "dfm_", "model_")):
        return f"parameter name {name!r} must not start with '_', 'dfm_' or 'model_'"
    if name in _RESERVED_PARAMS or name in _reserved_attributes():
        return f"parameter name {name!r} is reserved (an attribute of every Operation)"
    return None
