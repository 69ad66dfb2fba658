"""Polymorphic JSON: models that serialize their concrete class and come back as it.

Every concrete subclass of :class:`PolymorphicBaseModel` carries a ``dfm_class_name``
field holding its import path. Validation of a dict with a ``dfm_class_name`` resolves
that path and validates with the named class. Resolution imports a module only when its
path starts with an allowed prefix: this is what keeps a pipeline or a NetIR received
from elsewhere from importing arbitrary modules.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, model_validator

_allowed_lock = threading.Lock()
_allowed_prefixes: set[str] = {"dfm"}


def allow_module_prefix(*prefixes: str) -> None:
    """Allow polymorphic JSON to resolve classes from modules under these packages.

    ``dfm`` is always allowed; a federation's code package is allowed when a session for
    it is created. Call this for your own operation or model packages, e.g.
    ``allow_module_prefix("myapp.models")``.
    """
    with _allowed_lock:
        for prefix in prefixes:
            if not prefix or not all(part.isidentifier() for part in prefix.split(".")):
                raise ValueError(f"{prefix!r} is not a dotted Python module path")
            _allowed_prefixes.add(prefix)


def is_module_allowed(module: str) -> bool:
    """Whether polymorphic JSON may import ``module``."""
    parts = module.split(".")
    return any(".".join(parts[:i]) in _allowed_prefixes for i in range(1, len(parts) + 1))


_resolved: dict[str, type[Any]] = {}


def resolve_class(path: str) -> type[Any]:
    """Import the class named by a dotted path, under the allow-list.

    Raises:
        ValueError: The path is malformed, not allowed, or names nothing importable.
    """
    found_before = _resolved.get(path)
    if found_before is not None:
        # Safe to cache: prefixes are only ever added, so an allowed path stays allowed.
        return found_before
    module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name:
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
        """Remember whether the class is concrete (declares ``dfm_class_name``)."""
        super().__pydantic_init_subclass__(**kwargs)
        cls._dfm_concrete = "dfm_class_name" in cls.__pydantic_fields__

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
