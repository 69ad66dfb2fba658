"""Polymorphic JSON: models that serialize their concrete class and come back as it.

Every concrete subclass of :class:`PolymorphicBaseModel` carries a ``dfm_class_name``
field holding its import path. Validation of a dict with a ``dfm_class_name`` resolves
that path and validates with the named class. Resolution never imports a module outside
the allow-list: a class already defined in this process and *trusted* (every concrete
polymorphic model under its own path, and the classes given to :func:`trust_classes`,
such as a federation's generated schema models) is found by its exact path without any
import; any other path is imported only when its module starts with an allowed prefix.
This is what keeps a pipeline or a NetIR received from elsewhere from importing
arbitrary modules.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, model_validator

_allowed_lock = threading.Lock()
_allowed_prefixes: set[str] = {"dfm"}
_trusted: dict[str, type[Any]] = {}


def is_dotted_path(text: str) -> bool:
    """Whether ``text`` is a dotted Python path (identifiers joined by dots)."""
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def allow_module_prefix(*prefixes: str) -> None:
    """Allow polymorphic JSON to resolve classes from modules under these packages.

    ``dfm`` is always allowed; a session allows its federation's generated packages
    (``<federation>.fed.api``, ``.fed.site``, ``.fed.schema``). Call this for your own
    operation or model packages, e.g. ``allow_module_prefix("myapp.models")``.

    Raises:
        ValueError: A prefix is not a dotted Python module path.
    """
    with _allowed_lock:
        for prefix in prefixes:
            if not is_dotted_path(prefix):
                raise ValueError(f"{prefix!r} is not a dotted Python module path")
            _allowed_prefixes.add(prefix)


def federation_prefixes(federation: str) -> tuple[str, ...]:
    """The generated packages of a federation that JSON may name classes from.

    ``<federation>.fed.api``, ``.fed.site`` (operations) and ``.fed.schema`` (models):
    generated code only. The rest of the federation package (adapters, site runtimes)
    is not included: a pipeline must not be able to import it.
    """
    return (f"{federation}.fed.api", f"{federation}.fed.site", f"{federation}.fed.schema")


def allow_federation(federation: str) -> None:
    """Allow JSON to name the classes of a federation's generated packages.

    See :func:`federation_prefixes`; a session does this for its federation.

    Raises:
        ValueError: ``federation`` is not a dotted Python module path.
    """
    allow_module_prefix(*federation_prefixes(federation))


def allowed_prefixes() -> tuple[str, ...]:
    """The module prefixes polymorphic JSON may import from (sorted)."""
    with _allowed_lock:
        return tuple(sorted(_allowed_prefixes))


def is_module_allowed(module: str) -> bool:
    """Whether polymorphic JSON may import ``module``."""
    parts = module.split(".")
    return any(".".join(parts[:i]) in _allowed_prefixes for i in range(1, len(parts) + 1))


def _own_path(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def trust_classes(*classes: type[Any]) -> None:
    """Trust classes already defined in this process: JSON may name them by exact path.

    A trusted class is resolved (for ``dfm_class_name`` and for ``model`` values) without
    any import and without consulting the allow-list. Generated federation packages
    call this for their schema models; concrete polymorphic models (operations) are
    trusted on definition.

    Raises:
        ValueError: A class is not defined at module level (its path would not name it).
    """
    for cls in classes:
        path = _own_path(cls)
        if "<locals>" in path or not is_dotted_path(path):
            raise ValueError(
                f"Cannot trust {cls!r}: only classes defined at module level can be named by "
                "their import path"
            )
        _trusted[path] = cls


def trusted_class(path: str) -> type[Any] | None:
    """The trusted class defined under exact import ``path``, or None."""
    return _trusted.get(path)


_resolved: dict[str, type[Any]] = {}


def resolve_class(path: str) -> type[Any]:
    """The class named by a dotted path: a trusted class, or an import under the allow-list.

    Raises:
        ValueError: The path is malformed, not allowed, or names nothing importable.
    """
    found_before = _trusted.get(path) or _resolved.get(path)
    if found_before is not None:
        # Safe to cache: prefixes are only ever added, so an allowed path stays allowed.
        return found_before
    module_name, _, class_name = path.rpartition(".")
    if not module_name or not is_dotted_path(path):
        raise ValueError(f"dfm_class_name {path!r} is not a 'module.Class' path")
    if not is_module_allowed(module_name):
        raise ValueError(
            f"dfm_class_name {path!r} is outside the allowed modules; if you trust it, call "
            f"dfm.api.allow_module_prefix({module_name.split('.')[0]!r}) before loading"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"dfm_class_name {path!r}: cannot import {module_name!r}: {e}") from e
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise ValueError(f"dfm_class_name {path!r}: {module_name} has no class {class_name!r}")
    _resolved[path] = found
    return found


class PolymorphicBaseModel(BaseModel):
    """Base of models whose JSON names their concrete class in ``dfm_class_name``."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    _dfm_concrete: ClassVar[bool] = False

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Remember whether the class is concrete; trust it under its own path if so."""
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.__pydantic_fields__
        cls._dfm_concrete = "dfm_class_name" in fields
        if not cls._dfm_concrete or cls.__dict__.get("_dfm_twin", False):
            return
        # A class defined in this process is named by its own path in JSON: resolving
        # that path needs no import, so no allow-list (generated operation classes).
        declared = fields["dfm_class_name"].default
        if isinstance(declared, str) and declared == _own_path(cls) and is_dotted_path(declared):
            _trusted[declared] = cls

    @model_validator(mode="wrap")
    @classmethod
    def _dispatch_on_class_name(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if isinstance(data, dict) and "dfm_class_name" in data:
            target = resolve_class(str(data["dfm_class_name"]))
            if target is not cls:
                if not (isinstance(target, type) and issubclass(target, cls)):
                    raise ValueError(
                        f"dfm_class_name {data['dfm_class_name']!r} is not a {cls.__name__}"
                    )
                return target.model_validate(data)
        elif not cls._dfm_concrete and isinstance(data, dict):
            raise ValueError(f"{cls.__name__} is abstract; the JSON object needs a dfm_class_name")
        return handler(data)
