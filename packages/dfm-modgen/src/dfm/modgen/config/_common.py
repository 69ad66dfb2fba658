"""Shared pieces of the config models: base class, name rules, constructor calls."""

from __future__ import annotations

import difflib
import keyword
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "JSON_BUILTIN_TYPES",
    "ConfigModel",
    "ConstructorCall",
    "ClassPath",
    "ConstructorSpec",
    "DottedPath",
    "ModulePrefix",
    "Identifier",
    "TypeList",
    "check_class_path",
    "check_dotted_path",
    "check_identifier",
    "check_type_name",
    "is_identifier",
]

#: JSON-Schema builtin type names accepted in ``type:``.
JSON_BUILTIN_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


class ConfigModel(BaseModel):
    """Base of the config models: frozen, unknown keys rejected, both spellings.

    Fields with a hyphenated alias (``is-async``) also accept their Python name
    (``is_async``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def is_identifier(name: str) -> bool:
    """Tell whether ``name`` is a Python identifier that is not a keyword.

    Args:
        name: The candidate.

    Returns:
        True when ``name`` can be used as a Python name.
    """
    return name.isidentifier() and not keyword.iskeyword(name)


def check_identifier(value: str) -> str:
    """Validate a Python identifier (no dots).

    Args:
        value: The candidate.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: When it is not an identifier.
    """
    if not is_identifier(value):
        raise ValueError(f"must be a Python identifier (letters, digits, _), got {value!r}")
    return value


def check_dotted_path(value: str) -> str:
    """Validate a dotted Python path such as ``pkg.mod.Class``.

    Args:
        value: The candidate.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: When a segment is not an identifier.
    """
    if not value or not all(is_identifier(part) for part in value.split(".")):
        raise ValueError(f"must be a dotted Python path like 'pkg.module.Name', got {value!r}")
    return value


def check_class_path(value: str) -> str:
    """Validate the path of a class: ``module.Class`` (or ``pkg.module.Class``).

    Generated code imports the module and takes the class from it, so a bare class
    name (no module) cannot work.

    Args:
        value: The candidate.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: When it is not a dotted path with a module part.
    """
    check_dotted_path(value)
    if "." not in value:
        raise ValueError(
            "must be 'module.Class' (the class and the module that defines it, like "
            f"'mypkg.adapters.Echo'), got {value!r}"
        )
    return value


def check_module_prefix(value: str) -> str:
    """Validate a module prefix such as ``mypkg`` or ``mypkg.models``.

    Args:
        value: The candidate.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: When a segment is not an identifier.
    """
    if not value or not all(is_identifier(part) for part in value.split(".")):
        raise ValueError(f"must be a dotted Python module path like 'mypkg.models', got {value!r}")
    return value


def check_type_name(value: str) -> str:
    """Validate a parameter type name: a JSON builtin or a dotted class path.

    Args:
        value: The candidate.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: When it is neither.
    """
    if value in JSON_BUILTIN_TYPES:
        return value
    if "." in value and all(is_identifier(part) for part in value.split(".")):
        return value
    allowed = ", ".join(JSON_BUILTIN_TYPES)
    hint = ""
    if value == "python-object":
        hint = " ('python-object' is gone: declare the real class, e.g. 'pkg.mod.Model')"
    guess = difflib.get_close_matches(value.lower(), JSON_BUILTIN_TYPES, n=1, cutoff=0.75)
    close = f" (did you mean {guess[0]!r}?)" if guess else ""
    raise ValueError(
        f"unknown type {value!r}{close}: expected one of {allowed}, or a dotted class path "
        f"like 'pkg.module.Model'{hint}"
    )


def _to_type_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


#: A Python identifier (no dots, not a keyword).
Identifier = Annotated[str, AfterValidator(check_identifier)]
#: A dotted Python path (``pkg.mod.Name``).
DottedPath = Annotated[str, AfterValidator(check_dotted_path)]
#: The path of a class, with its module (``pkg.mod.Class``).
ClassPath = Annotated[str, AfterValidator(check_class_path)]
#: A module prefix (``pkg`` or ``pkg.models``).
ModulePrefix = Annotated[str, AfterValidator(check_module_prefix)]
#: ``type:`` of a parameter: one name or a list; always stored as a list.
TypeList = Annotated[
    list[Annotated[str, AfterValidator(check_type_name)]],
    BeforeValidator(_to_type_list),
]


class ConstructorCall(ConfigModel):
    """A class to instantiate, with keyword arguments for its constructor.

    Written in YAML either as a bare dotted path or as ``{path, args}``.

    Attributes:
        path: Dotted path of the class, module included (``pkg.mod.Class``).
        args: JSON values passed as keyword arguments to the constructor.
    """

    path: ClassPath
    args: dict[str, Any] = Field(default_factory=dict)


def _ctor_from_str(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


#: A `ConstructorCall`, also accepted as a bare dotted path string.
ConstructorSpec = Annotated[ConstructorCall, BeforeValidator(_ctor_from_str)]
