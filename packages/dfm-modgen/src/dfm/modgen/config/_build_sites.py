"""Building ``sites:``: sites, providers, interfaces, adapter bindings, arg sources."""

from __future__ import annotations

from typing import Any

from ._adapters import (
    ARG_SOURCE_KEYS,
    AdapterBinding,
    ArgSource,
    ConstArg,
    FromParamArg,
    FromProviderArg,
    FromSecretsArg,
    FromSiteArg,
    arg_source_kind,
)
from ._common import ConfigModel, is_identifier
from ._context import BuildContext, key_hint
from ._errors import ConfigPath
from ._models import OPERATION_KEY_PREFIX, ProviderConfig, SiteConfig, site_identifier
from ._operations import check_parameter_name
from ._refs import Node

__all__ = ["RESERVED_PROVIDER_NAMES", "build_sites"]

#: Names a provider cannot have: they are attributes of every site object or
#: names the generated runtime module defines.
RESERVED_PROVIDER_NAMES = frozenset(
    {
        "site", "site_name", "dfm_context", "federation_name", "api_version", "impl_args",
        "cache_storage", "cache_config", "secret_for_key", "telemetry_span", "providers",
        "ThisSite", "Site",
        "Provider", "Any", "inspect", "logging",
    }
)  # fmt: skip

_SOURCES: dict[str, type[ConfigModel]] = {
    "from-param": FromParamArg,
    "const": ConstArg,
    "from-secrets": FromSecretsArg,
    "from-provider": FromProviderArg,
    "from-site": FromSiteArg,
}
_SOURCE_LIST = "from-param, const, from-secrets, from-provider, from-site"


def build_sites(ctx: BuildContext, node: Node) -> dict[str, SiteConfig]:
    """Build ``sites:``.

    Args:
        ctx: The build context (operations must be built already).
        node: The ``sites`` node.

    Returns:
        Site key → site, for the valid ones.
    """
    sites: dict[str, SiteConfig] = {}
    ids: dict[str, str] = {}
    for key, entry in ctx.entries(node, ("sites",), "sites"):
        path: ConfigPath = ("sites", key)
        ok = True
        try:
            ident = site_identifier(key)
        except ValueError as e:
            ident = ""
            ctx.issue(entry, path, str(e))
            ok = False
        if ok and ident in ids:
            ctx.issue(entry, path, f"sites {ids[ident]!r} and {key!r} are both site {ident!r}")
            ok = False
        if ok:
            ids.setdefault(ident, key)
        target = ctx.deref(entry, path)
        site = _build_site(ctx, target, path) if target is not None else None
        if site is not None and ok:
            sites[key] = site
    return sites


def _build_site(ctx: BuildContext, node: Node, path: ConfigPath) -> SiteConfig | None:
    data = ctx.mapping(node, path, "a site")
    if data is None:
        return None
    providers: dict[str, ProviderConfig] = {}
    pnode = Node(data.get("providers"), node.src.child("providers"))
    entries, complete = ctx.entries_checked(pnode, (*path, "providers"), "providers")
    # None: a provider may be missing because of a mistake; names are not checked then.
    names = {name for name, _ in entries} if complete else None
    for name, entry in entries:
        ppath = (*path, "providers", name)
        ok = is_identifier(name) and not name.startswith("_")
        ok = ok and name not in RESERVED_PROVIDER_NAMES
        if not ok:
            ctx.issue(
                entry,
                ppath,
                f"provider name {name!r} must be a Python identifier that does not start "
                "with '_' and is not one of the site's own attributes",
            )
        target = ctx.deref(entry, ppath)
        provider = _build_provider(ctx, target, ppath, names) if target is not None else None
        if provider is not None and ok:  # a wrong name's body is checked all the same
            providers[name] = provider
    interface = _build_interface(ctx, node, data, path, names)
    shell = {k: v for k, v in data.items() if k not in ("interface", "providers")}
    site = ctx.validate(SiteConfig, shell, node, path)
    if site is None:
        return None
    site = site.model_copy(update={"interface": interface, "providers": providers})
    site._origin = ctx.locate(node, path)
    return site


def _build_provider(
    ctx: BuildContext, node: Node, path: ConfigPath, providers: set[str] | None
) -> ProviderConfig | None:
    data = ctx.mapping(node, path, "a provider")
    if data is None:
        return None
    interface = _build_interface(ctx, node, data, path, providers)
    shell = {k: v for k, v in data.items() if k != "interface"}
    provider = ctx.validate(ProviderConfig, shell, node, path)
    if provider is None:
        return None
    provider = provider.model_copy(update={"interface": interface})
    provider._origin = ctx.locate(node, path)
    return provider


def _build_interface(
    ctx: BuildContext,
    owner: Node,
    data: dict[Any, Any],
    path: ConfigPath,
    providers: set[str] | None,
) -> dict[str, AdapterBinding]:
    if "interface" not in data:
        return {}
    path = (*path, "interface")
    node = Node(data["interface"], owner.src.child("interface"))
    interface: dict[str, AdapterBinding] = {}
    for key, entry in ctx.entries(node, path, "interface entries"):
        op: str | None = None
        if not key.startswith(OPERATION_KEY_PREFIX) or key == OPERATION_KEY_PREFIX:
            ctx.issue(
                entry,
                (*path, key),
                f"interface keys must be '#/operations/<operation name>' (or a '$ref' list "
                f"of mappings with such keys), got {key!r}",
            )
        else:
            op = key[len(OPERATION_KEY_PREFIX) :].replace("~1", "/").replace("~0", "~")
            if op not in ctx.operation_names:
                if ctx.operations_complete:
                    message = f"unknown operation {op!r}: not declared in operations"
                    ctx.issue(entry, (*path, key), message)
                op = None
        # The binding is checked even under a wrong key; only the checks against
        # its operation need the operation.
        target = ctx.deref(entry, (*path, key))
        binding = _build_binding(ctx, target, (*path, key), op, providers) if target else None
        if binding is not None and op is not None:
            interface[op] = binding
    return interface


def _build_binding(
    ctx: BuildContext, node: Node, path: ConfigPath, op: str | None, providers: set[str] | None
) -> AdapterBinding | None:
    data = ctx.mapping(node, path, "an adapter binding")
    if data is None:
        return None
    raw = data.get("args")
    args: str | dict[str, ArgSource] = {}
    if "args" not in data and op is not None:
        _check_no_args(ctx, node, path, op)
    if isinstance(raw, str):
        if raw == "from-operation":
            args = raw
        else:
            ctx.issue(
                node,
                (*path, "args"),
                f"expected 'from-operation' or a mapping of adapter argument to source, "
                f"got {raw!r}",
            )
    elif isinstance(raw, dict):
        args = _build_args(ctx, Node(raw, node.src.child("args")), (*path, "args"), op, providers)
    elif raw is not None:
        ctx.issue(node, (*path, "args"), f"expected 'from-operation' or a mapping, got {raw!r}")
    shell = {k: v for k, v in data.items() if k != "args"}
    binding = ctx.validate(AdapterBinding, shell, node, path)
    if binding is None:
        return None
    binding = binding.model_copy(update={"args": args})
    binding._origin = ctx.locate(node, path)
    return binding


def _check_no_args(ctx: BuildContext, node: Node, path: ConfigPath, op: str) -> None:
    # Without ``args`` the call method passes nothing: every parameter the pipeline
    # sets would be dropped silently and the job would finish with wrong results.
    declared = ctx.operations.get(op)
    if declared is not None:
        params = list(declared.parameters)
    else:
        params = sorted(ctx.operation_params.get(op) or ())
    if not params:
        return
    ctx.issue(
        node,
        path,
        f"the binding has no 'args', so body() would get none of the parameters of {op!r} "
        f"({', '.join(params)}): add 'args: from-operation' to pass them all, or map them "
        f"(args: {{{params[0]}: {{from-param: {params[0]}}}, ...}}); write 'args: {{}}' to "
        "pass none on purpose",
    )


def _build_args(
    ctx: BuildContext, node: Node, path: ConfigPath, op: str | None, providers: set[str] | None
) -> dict[str, ArgSource]:
    # op is None when the interface key is wrong; params is None when the
    # operation's parameters could not be read: then nothing is checked against them.
    args: dict[str, ArgSource] = {}
    exposed: dict[str, str] = {}
    params = ctx.operation_params.get(op) if op is not None else None
    for name, value in node.value.items():
        child = Node(value, node.src.child(name))
        if not isinstance(name, str) or not is_identifier(name):
            ctx.issue(
                child,
                path,
                f"adapter argument names must be identifiers, got {name!r}{key_hint(name)}",
            )
            continue
        source = _build_source(ctx, child, (*path, name))
        if source is None:
            continue
        args[name] = source  # type: ignore[assignment]  # one of the ArgSource models
        where = (*path, name)
        if isinstance(source, FromParamArg) and params is not None:
            if source.from_param not in params:
                ctx.issue(
                    child,
                    (*where, "from-param"),
                    f"operation {op!r} has no parameter {source.from_param!r}",
                )
        if isinstance(source, FromProviderArg) and providers is not None:
            if source.provider not in providers:
                ctx.issue(
                    child,
                    (*where, "from-provider"),
                    f"this site has no provider {source.provider!r}",
                )
        expose = getattr(source, "expose_as", None)
        if expose is not None:
            _check_exposed(ctx, child, where, expose.param, params, exposed)
            exposed.setdefault(expose.param, name)
    return args


def _check_exposed(
    ctx: BuildContext,
    node: Node,
    path: ConfigPath,
    param: str,
    params: frozenset[str] | None,
    exposed: dict[str, str],
) -> None:
    path = (*path, "expose-as", "param")
    problem = check_parameter_name(param)
    if problem is not None:
        ctx.issue(node, path, problem)
    elif params is not None and param in params:
        ctx.issue(node, path, f"{param!r} is already a parameter of the operation")
    elif param in exposed:
        ctx.issue(node, path, f"{param!r} is already exposed by argument {exposed[param]!r}")


def _build_source(ctx: BuildContext, node: Node, path: ConfigPath) -> ConfigModel | None:
    value = node.value
    if not isinstance(value, dict):
        ctx.issue(
            node,
            path,
            f"an argument source must be a mapping with one of {_SOURCE_LIST}, got "
            f"{value!r} (for a fixed value write {{const: ...}})",
        )
        return None
    found = [k for k in value if k in ARG_SOURCE_KEYS]
    kind = arg_source_kind(value)
    if kind is None or len(found) != 1:
        got = ", ".join(map(str, value)) or "nothing"
        if found:
            msg = f"give exactly one of {_SOURCE_LIST}; found {', '.join(found)}"
        else:
            msg = f"expected one of {_SOURCE_LIST}; found {got}"
        ctx.issue(node, path, msg)
        return None
    if kind == "from-param":
        bad = [k for k in value if k in ("expose-as", "expose_as")]
        if bad:
            ctx.issue(
                node,
                (*path, bad[0]),
                "expose-as is not allowed with from-param (the operation parameter already "
                "is the caller's value)",
            )
            value = {k: v for k, v in value.items() if k not in bad}
    return ctx.validate(_SOURCES[kind], value, node, path)
