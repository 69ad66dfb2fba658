"""Adapter bindings: which class implements an operation and where its args come from."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, PrivateAttr, Tag

from ._common import ConfigModel, ConstructorSpec, Identifier, TypeList
from ._errors import ConfigIssue
from ._operations import InputFlags

__all__ = [
    "ARG_SOURCE_KEYS",
    "AdapterBinding",
    "ArgSource",
    "ComputeCost",
    "ConstArg",
    "ExposeAs",
    "FromParamArg",
    "FromProviderArg",
    "FromSecretsArg",
    "FromSiteArg",
    "arg_source_kind",
]


class ComputeCost(ConfigModel):
    """Cost model of one adapter, used by the placement optimiser.

    Attributes:
        fixed_time: Seconds per call, independent of input size (>= 0).
        compute_throughput: Input bytes per second (> 0); None means input size
            does not affect time.
        fixed_size: Output bytes, independent of input size (>= 0).
        output_factor: Output bytes per input byte (>= 0).
    """

    fixed_time: float = Field(0.0, ge=0, allow_inf_nan=False)
    compute_throughput: int | None = Field(None, gt=0)
    fixed_size: int = Field(0, ge=0)
    output_factor: float = Field(0.0, ge=0, allow_inf_nan=False)


class ExposeAs(InputFlags):
    """Lets a site-pinned operation class override an adapter argument.

    Attributes:
        param: Name of the extra field on the site-pinned class.
        type: JSON builtin names and/or dotted class paths.
        description: Shown in the generated docstring.
    """

    param: Identifier
    type: TypeList
    description: str | None = None


class FromParamArg(ConfigModel):
    """The pipeline keyword ``from_param``; not passed when the caller did not set it.

    Attributes:
        from_param: The operation parameter.
        doc: A note for readers.
    """

    from_param: Identifier = Field(alias="from-param")
    doc: str | None = None


class _Exposable(ConfigModel):
    expose_as: ExposeAs | None = Field(None, alias="expose-as")
    doc: str | None = None


class ConstArg(_Exposable):
    """A constant JSON value (falsy values such as 0, false, "" and null included).

    Attributes:
        const: The value.
        expose_as: Optional override by an exposed parameter.
        doc: A note for readers.
    """

    const: Any


class FromSecretsArg(_Exposable):
    """``site.secret_for_key(key)``, looked up on every call.

    Attributes:
        from_secrets: The secret key.
        expose_as: Optional override by an exposed parameter.
        doc: A note for readers.
    """

    from_secrets: str = Field(alias="from-secrets")


def _check_provider_attr(value: str) -> str:
    parts = value.split(".")
    if len(parts) != 2 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"expected '<provider>.<attribute>', got {value!r}")
    return value


class FromProviderArg(_Exposable):
    """Attribute ``attr`` of provider ``prov`` of the same site (``prov.attr``).

    Attributes:
        from_provider: ``<provider>.<attribute>``.
        expose_as: Optional override by an exposed parameter.
        doc: A note for readers.
    """

    from_provider: Annotated[str, AfterValidator(_check_provider_attr)] = Field(
        alias="from-provider"
    )

    @property
    def provider(self) -> str:
        """The provider name."""
        return self.from_provider.split(".")[0]

    @property
    def attribute(self) -> str:
        """The attribute name."""
        return self.from_provider.split(".")[1]


class FromSiteArg(_Exposable):
    """Attribute ``from_site`` of the site object (``federation_name`` ...).

    Attributes:
        from_site: The attribute name.
        expose_as: Optional override by an exposed parameter.
        doc: A note for readers.
    """

    from_site: Identifier = Field(alias="from-site")


#: Discriminator key (both spellings) → the tag of the arg-source model.
ARG_SOURCE_KEYS: dict[str, str] = {
    "from-param": "from-param",
    "from_param": "from-param",
    "const": "const",
    "from-secrets": "from-secrets",
    "from_secrets": "from-secrets",
    "from-provider": "from-provider",
    "from_provider": "from-provider",
    "from-site": "from-site",
    "from_site": "from-site",
}


def arg_source_kind(value: Any) -> str | None:
    """Find which arg-source model a raw mapping (or model) is.

    Args:
        value: A mapping from YAML, or an arg-source model.

    Returns:
        The tag (``from-param``, ``const``, ...), or None when there is not exactly
        one discriminator key.
    """
    if isinstance(value, ConfigModel):
        return _MODEL_TAGS.get(type(value))
    if not isinstance(value, dict):
        return None
    tags = {ARG_SOURCE_KEYS[k] for k in value if k in ARG_SOURCE_KEYS}
    return tags.pop() if len(tags) == 1 else None


_MODEL_TAGS: dict[type[ConfigModel], str] = {
    FromParamArg: "from-param",
    ConstArg: "const",
    FromSecretsArg: "from-secrets",
    FromProviderArg: "from-provider",
    FromSiteArg: "from-site",
}

#: Where one adapter argument comes from.
ArgSource = Annotated[
    Annotated[FromParamArg, Tag("from-param")]
    | Annotated[ConstArg, Tag("const")]
    | Annotated[FromSecretsArg, Tag("from-secrets")]
    | Annotated[FromProviderArg, Tag("from-provider")]
    | Annotated[FromSiteArg, Tag("from-site")],
    Discriminator(
        arg_source_kind,
        custom_error_type="arg_source",
        custom_error_message=(
            "expected exactly one of from-param, const, from-secrets, from-provider, from-site"
        ),
    ),
]


class AdapterBinding(ConfigModel):
    """Binds an operation of a site's (or provider's) interface to an adapter class.

    Attributes:
        adapter: The adapter class (and constructor args); one instance per binding.
        description: Docstring of the site-pinned class.
        returns: Documentation only.
        is_async: Whether the adapter's ``body`` is a coroutine (default true).
        args: ``"from-operation"`` (pass the caller's keywords through) or adapter
            argument name → source. Empty means ``body()`` gets no arguments.
        compute_cost: Cost model; a pessimistic default is used when missing.
        keep_on_site: Results of this operation on this site never leave the site
            (``keep-on-site``): the compiler places every consumer there.
    """

    adapter: ConstructorSpec
    description: str | None = None
    returns: str | None = None
    is_async: bool = Field(True, alias="is-async")
    args: Literal["from-operation"] | dict[str, ArgSource] = Field(default_factory=dict)
    compute_cost: ComputeCost | None = None
    keep_on_site: bool = Field(False, alias="keep-on-site")

    _origin: ConfigIssue | None = PrivateAttr(default=None)

    @property
    def origin(self) -> ConfigIssue | None:
        """Where the binding is written (file, path there, note), when it was loaded."""
        return self._origin

    def __eq__(self, other: object) -> bool:
        """Equal bindings have equal fields, wherever they are written."""
        if not isinstance(other, AdapterBinding):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = ConfigModel.__hash__

    def exposed(self) -> list[tuple[str, ExposeAs]]:
        """The exposed parameters of this binding.

        Returns:
            ``(adapter_arg, expose_as)`` pairs in declaration order.
        """
        if isinstance(self.args, str):
            return []
        out: list[tuple[str, ExposeAs]] = []
        for name, source in self.args.items():
            expose = getattr(source, "expose_as", None)
            if isinstance(expose, ExposeAs):
                out.append((name, expose))
        return out
