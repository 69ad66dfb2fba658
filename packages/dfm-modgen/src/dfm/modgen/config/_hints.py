"""Hints for unknown keys: a close key allowed at that place, or where the key belongs."""

from __future__ import annotations

import difflib
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import AliasChoices, BaseModel

from . import _adapters, _models, _operations, _provision

__all__ = ["unknown_key_hint"]

#: How the user knows the objects of each model, for "(bandwidth is a send_cost key)".
_LABELS: dict[type[BaseModel], str] = {
    _models.FederationConfig: "top-level",
    _models.FederationInfo: "info",
    _models.SiteConfig: "site",
    _models.ProviderConfig: "provider",
    _models.CacheConfig: "cache_config",
    _models.SecretsVaultConfig: "secrets_vault",
    _models.SendCost: "send_cost",
    _operations.OperationConfig: "operation",
    _operations.ParameterSpec: "parameter",
    _adapters.AdapterBinding: "adapter binding",
    _adapters.ComputeCost: "compute_cost",
    _adapters.ExposeAs: "expose-as",
    _adapters.FromParamArg: "from-param source",
    _adapters.ConstArg: "const source",
    _adapters.FromSecretsArg: "from-secrets source",
    _adapters.FromProviderArg: "from-provider source",
    _adapters.FromSiteArg: "from-site source",
    _provision.ProvisionConfig: "provision",
    _provision.DockerProvision: "provision.docker",
    _provision.Dockerfile: "dockerfile",
    _provision.DockerBuild: "docker build",
    _provision.DockerSave: "docker save",
    _provision.DockerPush: "docker push",
    _provision.RegistryConfig: "registry",
    _provision.HelmProvision: "helm",
}

# Fields that are not written as such in a config.
_INTERNAL = frozenset({"keywords"})

# How alike a key and a suggestion must be (0.75: one wrong letter in four).
_CUTOFF = 0.75

# How alike a key and a key of another place must be (0.85: about one wrong letter
# in seven): looser matches there are more often misleading than helpful.
_ELSEWHERE_CUTOFF = 0.85

# A key that belongs to more places than this gets no "belongs elsewhere" hint.
_MAX_OWNERS = 2


def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    # Hyphenated aliases first: they are the spelling the docs use.
    out: list[str] = []
    for name, field in model.model_fields.items():
        if name in _INTERNAL:
            continue
        if field.alias:
            out.append(field.alias)
        out.append(name)
        if isinstance(field.validation_alias, AliasChoices):
            out.extend(c for c in field.validation_alias.choices if isinstance(c, str))
    if issubclass(model, _operations.ParameterSpec):
        out.extend(sorted(_operations.SCHEMA_KEYWORDS))
    return tuple(dict.fromkeys(out))


@functools.cache
def _owners() -> dict[str, tuple[str, ...]]:
    # key -> labels of the models that accept it
    owners: dict[str, list[str]] = {}
    for model, label in _LABELS.items():
        for key in _keys(model):
            owners.setdefault(key, []).append(label)
    return {key: tuple(labels) for key, labels in owners.items()}


def _members(annotation: Any) -> list[Any]:
    # Strip Annotated and split unions (Optional included) into their members.
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _step(annotation: Any, part: str | int) -> Any:
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            for name, field in member.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
        elif origin is dict and isinstance(part, str):
            return typing.get_args(member)[1]
        elif origin is list and isinstance(part, int):
            return typing.get_args(member)[0]
    return None


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else None


def _article(label: str) -> str:
    return "an" if label[:1] in "aeio" else "a"


def _owned_by(key: str, labels: Sequence[str]) -> str:
    kinds = " or ".join(labels)
    return f"{key} is {_article(kinds)} {kinds} key"


def _stem(key: str) -> str:
    return key.lstrip("$").rstrip("s")


def unknown_key_hint(model: type[BaseModel], loc: Sequence[str | int], key: str) -> str:
    """A hint for an unknown key, to append to the message (or ``""``).

    When the key (in either spelling, ``-`` or ``_``) belongs to one or two other
    places, the hint says where; otherwise it is a close spelling of a key allowed
    at this place, never the key itself. Failing that, a very close spelling of a
    key of one or two other places is named with its place (``bandwith`` under
    ``compute_cost``: "bandwidth is a send_cost key"), never suggested for here,
    and not when it only differs by a plural ``s`` or a ``$`` (``params`` vs
    ``param``, ``defs`` vs ``$defs``): those name other things.

    Args:
        model: The model that was validated.
        loc: Where the unknown key sits inside that model (the key excluded).
        key: The unknown key.

    Returns:
        ``" (did you mean 'x'?)"``, ``" (x is a send_cost key)"`` or ``""``.
    """
    here = _model_at(model, loc)
    allowed = _keys(here) if here is not None else ()
    here_label = _LABELS.get(here) if here is not None else None
    for spelling in dict.fromkeys((key, key.replace("-", "_"), key.replace("_", "-"))):
        elsewhere = [label for label in _owners().get(spelling, ()) if label != here_label]
        if elsewhere and len(elsewhere) <= _MAX_OWNERS:
            return f" ({_owned_by(spelling, elsewhere)})"
    candidates = [k for k in allowed if k != key]
    guess = difflib.get_close_matches(key, candidates, n=1, cutoff=_CUTOFF)
    if guess:
        return f" (did you mean {guess[0]!r}?)"
    others = [k for k, labels in _owners().items() if here_label not in labels]
    for near in difflib.get_close_matches(key, others, n=1, cutoff=_ELSEWHERE_CUTOFF):
        labels = _owners()[near]
        if len(labels) <= _MAX_OWNERS and _stem(key) != _stem(near):
            return f" ({_owned_by(near, labels)})"
    return ""
