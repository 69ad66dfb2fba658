"""``<pkg>/fed/runtime/<site>/_this_site.py``: ThisSite and the site's provider classes.

The module holds two tables keyed by interface entry (``op`` on the site,
``provider:op`` on a provider): ``_ADAPTERS`` (adapter class, constructor args)
and ``_SPANS`` (telemetry attributes). ``ThisSite.__init__`` creates the
providers (attributes named after them) and one adapter per interface entry
(attribute ``adapter_<op with _>``); each entry gets ``call_<op>`` and
``discover_<op>`` methods (see `_call_gen`).
"""

from __future__ import annotations

from pydantic import BaseModel

from ..config import AdapterBinding, ConstructorCall, FederationConfig, site_identifier
from ._call_gen import call_method, discover_method, method_suffix
from ._errors import GenerationError
from ._layout import HEADER
from ._source import LINE_LENGTH, Imports, call, docstring, py_literal, py_string

__all__ = ["RUNTIME_MODULE", "this_site_module"]

#: The runtime package that generated code imports. The generator itself never
#: imports it (modgen sits below the runtime), so the import line is built here.
RUNTIME_MODULE = "dfm" + ".runtime"

_LOOKUP = '''

def _adapter_class(module: Any, name: str, entry: str) -> Any:
    """The adapter class ``name`` of ``module``, or an error naming both and the entry."""
    found = getattr(module, name, None)
    if not isinstance(found, type):
        raise ImportError(
            f"The adapter of {entry} is {module.__name__}.{name}, but module "
            f"{module.__name__!r} has no class {name!r}: fix 'adapter' of that binding in "
            "the federation config (and run dfm gen), or define the class"
        )
    return found
'''

_HELPERS = '''

def _make_adapter(key: str, site: Any, provider: Any) -> Any:
    """Instantiate the adapter of one interface entry.

    ``site`` and ``provider`` are passed when the constructor has such parameters,
    together with the constructor args from the federation config.
    """
    cls, args = _ADAPTERS[key]
    try:
        params = set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        params = set()
    kwargs = dict(args)
    if "site" in params:
        kwargs["site"] = site
    if "provider" in params:
        kwargs["provider"] = provider
    return cls(**kwargs)


def _span(site: Any, key: str) -> AbstractContextManager[Any]:
    attributes = _SPANS[key]
    name = attributes["dfm.operation"]
    span: AbstractContextManager[Any] = site.telemetry_span(name, attributes)
    return span


async def _call_async(adapter: Any, packed: dict[str, Any]) -> Any:
    result = adapter.body(**packed)
    if inspect.isawaitable(result):
        result = await result
    return result


def _call_sync(adapter: Any, key: str, packed: dict[str, Any]) -> Any:
    result = adapter.body(**packed)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError(
            f"the adapter of {key} returned an awaitable, but the federation config "
            "declares it with is-async: false"
        )
    return result
'''


def _has_args(impl: ConstructorCall | None) -> bool:
    return impl is not None and bool(impl.args)


class _SiteWriter:
    def __init__(self, config: FederationConfig, key: str) -> None:
        self.fed = config.code_package
        self.sid = site_identifier(key)
        self.site = config.sites[key]
        self.imports = Imports(["ThisSite", *self.site.providers])
        self.adapters: list[str] = []
        self.spans: dict[str, dict[str, str]] = {}

    def class_ref(self, path: str) -> str:
        self.imports.module(path.rpartition(".")[0])
        return path

    def base(self, impl: ConstructorCall | None, default: str) -> str:
        return self.class_ref(impl.path) if impl else self.imports.name(RUNTIME_MODULE, default)

    def register(self, prov: str | None, op: str, binding: AdapterBinding) -> str:
        key = f"{prov}:{op}" if prov else op
        module, _, name = binding.adapter.path.rpartition(".")
        self.imports.module(module)
        where = f"{op} on site {self.sid}" + (f" (provider {prov})" if prov else "")
        lookup = [module, py_string(name), py_string(where)]
        args = binding.adapter.args
        entry = f"    {py_string(key)}: ({call('', '_adapter_class', lookup, '', 0)}, "
        entry += f"{py_literal(args)}),"
        if len(entry) > LINE_LENGTH or "\n" in entry:
            cls = call("", "_adapter_class", lookup, ",", 8)
            entry = f"    {py_string(key)}: (\n{cls}\n        {py_literal(args, 8)},\n    ),"
        self.adapters.append(entry)
        span = {"dfm.site": self.sid, "dfm.operation": op, "dfm.adapter": binding.adapter.path}
        if prov:
            span["dfm.provider"] = prov
        self.spans[key] = span
        return key

    def provider_class(self, name: str) -> str:
        provider = self.site.providers[name]
        args = ["site"]
        if _has_args(provider.impl):
            args.append(f"**_PROVIDER_ARGS[{py_string(name)}]")
        lines = [
            f"class {name}({self.base(provider.impl, 'Provider')}):",
            docstring(f"Provider {name!r} of site {self.sid!r}: its operations and adapters.", 4),
            "",
            "    def __init__(self, site: Any) -> None:",
            docstring("Create the provider and its adapters.", 8),
            call("", "super().__init__", args, "", 8),
        ]
        return "\n".join(lines + self.members(name, provider.interface))

    def site_class(self) -> str:
        args = [
            "dfm_context",
            "cache_config=_CACHE_CONFIG",
            "secrets_vault_config=_SECRETS_VAULT_CONFIG",
        ]
        if _has_args(self.site.impl):
            args.append("**_SITE_ARGS")
        summary = f"Site {self.sid!r} of federation {self.fed!r}: its operations and adapters."
        lines = [
            f"class ThisSite({self.base(self.site.impl, 'Site')}):",
            docstring(summary, 4),
            "",
            "    def __init__(self, dfm_context: Any) -> None:",
            docstring("Create the site of one job: its providers and adapters.", 8),
            call("", "super().__init__", args, "", 8),
        ]
        lines += [f"        self.{name} = {name}(self)" for name in self.site.providers]
        return "\n".join(lines + self.members(None, self.site.interface))

    def members(self, prov: str | None, interface: dict[str, AdapterBinding]) -> list[str]:
        site, owner = ("site", "self") if prov else ("self", "None")
        keys = {op: self.register(prov, op, binding) for op, binding in interface.items()}
        lines = [
            call(
                f"self.adapter_{method_suffix(op)} = ",
                "_make_adapter",
                [py_string(key), site, owner],
                "",
                8,
            )
            for op, key in keys.items()
        ]
        builder = self.imports.name(RUNTIME_MODULE, "build_advice") if interface else ""
        for op, binding in interface.items():
            lines += ["", *call_method(keys[op], op, binding, prov is not None)]
            lines += ["", *discover_method(op, binding, prov is not None, builder)]
        return lines

    def config_const(self, name: str, cls: str, value: BaseModel | None) -> str:
        # The runtime takes its own config objects; they are built from the YAML values.
        if value is None:
            return f"{name} = None"
        local = self.imports.name(RUNTIME_MODULE, cls)
        args = [f"{k}={py_literal(v)}" for k, v in value.model_dump(mode="json").items()]
        return call(f"{name} = ", local, args, "", 0)

    def tables(self, any_: str) -> list[str]:
        site = self.site
        out = [
            self.config_const("_CACHE_CONFIG", "CacheConfig", site.cache_config),
            self.config_const("_SECRETS_VAULT_CONFIG", "SecretsVaultConfig", site.secrets_vault),
        ]
        if site.impl and site.impl.args:
            out.append(f"_SITE_ARGS: dict[str, {any_}] = {py_literal(site.impl.args, 0, 30)}")
        prov_args = {p: v.impl.args for p, v in site.providers.items() if v.impl and v.impl.args}
        if prov_args:
            out.append(
                f"_PROVIDER_ARGS: dict[str, dict[str, {any_}]] = {py_literal(prov_args, 0, 44)}"
            )
        adapters = "{\n" + "".join(f"{e}\n" for e in self.adapters) + "}" if self.adapters else "{}"
        out.append(f"_ADAPTERS: dict[str, tuple[{any_}, dict[str, {any_}]]] = {adapters}")
        out.append(f"_SPANS: dict[str, dict[str, str]] = {py_literal(self.spans, 0, 36)}")
        return out


def this_site_module(config: FederationConfig, key: str) -> str:
    """The source of ``_this_site.py`` for one site.

    Args:
        config: The federation config.
        key: The site's key under ``sites:``.

    Returns:
        The module source.

    Raises:
        GenerationError: When a provider name clashes with an imported package.
    """
    w = _SiteWriter(config, key)
    any_ = w.imports.name("typing", "Any")
    w.imports.module("inspect")
    w.imports.name("contextlib", "AbstractContextManager")
    classes = [w.provider_class(name) for name in w.site.providers]
    classes.append(w.site_class())
    clash = sorted(set(w.site.providers) & w.imports.top_level_modules())
    if clash:
        raise GenerationError(
            f"site {w.sid!r}: provider {clash[0]!r} has the name of an imported package; "
            "rename the provider"
        )
    tables = "\n".join(w.tables(any_))
    doc = docstring(
        f"Site {w.sid!r} of federation {w.fed!r}: the adapters behind its operations.\n\n{HEADER}",
        0,
    )
    body = "\n\n\n".join(classes)
    return f"{doc}\n\n{w.imports.render()}\n{_LOOKUP}\n\n{tables}\n{_HELPERS}\n\n{body}\n"
