"""``<pkg>/fed/runtime``: per-site packages and ``fed_info.json``."""

from __future__ import annotations

import json
import logging

from dfm.api import ComputeCostInfo, FedInfo, OperationInfo, ProviderInfo, SendCostInfo, SiteInfo

from ..config import AdapterBinding, FederationConfig, site_identifier
from ._layout import HEADER
from ._source import LINE_LENGTH, docstring, py_string
from ._this_site import this_site_module

__all__ = [
    "DEFAULT_COMPUTE_COST",
    "SESSION_MODULE",
    "allowed_modules",
    "build_fed_info",
    "kept_on_site",
    "runtime_files",
]

logger = logging.getLogger("dfm.modgen")

#: The session package that generated code imports (never imported by the generator).
SESSION_MODULE = "dfm" + ".session"

#: Cost assumed for an adapter without ``compute_cost``: 1e6 s and 1e7 bytes, so the
#: optimiser avoids it whenever another site has a real estimate.
DEFAULT_COMPUTE_COST = ComputeCostInfo(fixed_time=1e6, fixed_size=10_000_000)

_SITE_INIT = '''{doc}

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from {session} import Session

__all__ = [
    "ALLOW_MODULES",
    "ALLOW_PICKLE",
    "API_VERSION",
    "FEDERATION_NAME",
    "KEEP_ON_SITE",
    "SITE_NAME",
    "ThisSite",
    "get_session",
]

API_VERSION: Final = {api_version}
FEDERATION_NAME: Final = {federation}
SITE_NAME: Final = {site}

# What this site accepts from others (allow-pickle, allow-modules in the federation
# config): whether it unpickles received values, and the module prefixes whose
# pydantic models it builds from them (besides dfm and classes it defines itself).
{allow_pickle}
{allow_modules}
# Interface entries ("op", or "provider:op") whose results never leave this site
# (keep-on-site in the federation config).
{keep_on_site}


def get_session(
    target: str | None = None, logger: logging.Logger | None = None, **kwargs: Any
) -> Session:
    """Open a session on this federation with this site as the homesite.

    Args:
        target: Name of the installed target to run on (e.g. ``"local"``); None
            lets the session choose.
        logger: Logger for the session.
        **kwargs: Passed on to the session and its target.

    Returns:
        A new session.
    """
    from {session} import Session

    if target is not None:
        kwargs["target"] = target
    if logger is not None:
        kwargs["logger"] = logger
    return Session(federation_name=FEDERATION_NAME, homesite=SITE_NAME, **kwargs)


def __getattr__(name: str) -> Any:
    # ThisSite imports the site's adapters: load it only when it is asked for, so
    # an application can open a session (and type-check) without the adapters.
    if name == "ThisSite":
        return importlib.import_module("._this_site", __name__).ThisSite
    raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
'''


def _str_tuple(target: str, items: list[str]) -> str:
    strings = [py_string(i) for i in items]
    flat = f"({strings[0]},)" if len(strings) == 1 else f"({', '.join(strings)})"
    line = f"{target} = {flat}"
    if len(line) <= LINE_LENGTH:
        return line
    return f"{target} = (\n" + "".join(f"    {s},\n" for s in strings) + ")"


def _str_frozenset(target: str, items: list[str]) -> str:
    if not items:
        return f"{target} = frozenset()"
    strings = [py_string(i) for i in items]
    inner = "{" + ", ".join(strings) + "}"
    line = f"{target} = frozenset({inner})"
    if len(line) <= LINE_LENGTH:
        return line
    if 4 + len(inner) <= LINE_LENGTH:
        return f"{target} = frozenset(\n    {inner}\n)"
    body = "".join(f"        {s},\n" for s in strings)
    return f"{target} = frozenset(\n    {{\n{body}    }}\n)"


def allowed_modules(config: FederationConfig, key: str) -> list[str]:
    """The module prefixes a site builds received models from (``ALLOW_MODULES``).

    Args:
        config: The federation config.
        key: The site's key under ``sites:``.

    Returns:
        The federation's generated schema package, then the site's ``allow-modules``.
    """
    schema = f"{config.code_package}.fed.schema"
    return [schema, *(m for m in config.sites[key].allow_modules if m != schema)]


def kept_on_site(config: FederationConfig, key: str) -> list[str]:
    """The interface entries of a site marked ``keep-on-site`` (``KEEP_ON_SITE``).

    Args:
        config: The federation config.
        key: The site's key under ``sites:``.

    Returns:
        ``op`` for the site's own interface, ``provider:op`` for a provider's, sorted.
    """
    site = config.sites[key]
    kept = [op for op, b in site.interface.items() if b.keep_on_site]
    for name, provider in site.providers.items():
        kept += [f"{name}:{op}" for op, b in provider.interface.items() if b.keep_on_site]
    return sorted(kept)


def _operation_info(
    op: str, binding: AdapterBinding, where: str, warned: set[str]
) -> OperationInfo:
    cost = binding.compute_cost
    if cost is None:
        if binding.adapter.path not in warned:
            warned.add(binding.adapter.path)
            logger.warning(
                "compute_cost not set for %s (adapter %s, first seen at %s); assuming the "
                "pessimistic default fixed_time=1e6 s, fixed_size=1e7 bytes",
                op,
                binding.adapter.path,
                where,
            )
        info = DEFAULT_COMPUTE_COST
    else:
        info = ComputeCostInfo.model_validate(cost.model_dump())
    return OperationInfo(
        operation=op,
        compute_cost=info,
        is_async=binding.is_async,
        keep_on_site=binding.keep_on_site,
    )


def build_fed_info(config: FederationConfig) -> FedInfo:
    """The federation's cost model (what ``fed_info.json`` holds).

    A binding without ``compute_cost`` gets `DEFAULT_COMPUTE_COST`; a warning is
    logged once per adapter class.

    Args:
        config: The federation config.

    Returns:
        The FedInfo; site keys and send-cost keys are site identifiers (the part before
        any ``@``), so that costs to ``alpha@x.com`` apply to site ``alpha``.
    """
    warned: set[str] = set()
    sites: dict[str, SiteInfo] = {}
    for key, site in config.sites.items():
        sid = site_identifier(key)
        interface = {op: _operation_info(op, b, sid, warned) for op, b in site.interface.items()}
        providers = {
            name: ProviderInfo(
                interface={
                    op: _operation_info(op, b, f"{sid}.{name}", warned)
                    for op, b in prov.interface.items()
                }
            )
            for name, prov in site.providers.items()
        }
        send = {
            site_identifier(target): SendCostInfo.model_validate(cost.model_dump())
            for target, cost in site.send_cost.items()
        }
        sites[sid] = SiteInfo(interface=interface, providers=providers, send_cost=send)
    known = set(sites)
    for sid, info in sites.items():
        unknown = sorted(set(info.send_cost) - known)
        if unknown:
            logger.warning(
                "Site %s has send_cost for %s, which %s not a site of the federation (sites: %s); "
                "check the spelling: placement ignores these entries",
                sid,
                ", ".join(unknown),
                "is" if len(unknown) == 1 else "are",
                ", ".join(sorted(known)),
            )
    return FedInfo(sites=sites)


def runtime_files(config: FederationConfig) -> dict[str, str]:
    """The files of ``fed/runtime``.

    Args:
        config: The federation config.

    Returns:
        Path relative to ``fed/`` → content.
    """
    fed = config.code_package
    out = {
        "runtime/__init__.py": docstring(
            f"Site runtimes of federation {fed!r}, one package per site.\n\n{HEADER}", 0
        )
        + "\n"
    }
    for key in config.sites:
        sid = site_identifier(key)
        doc = docstring(
            f"Runtime of site {sid!r} of federation {fed!r}.\n\n"
            f"``get_session()`` opens a session with {sid!r} as the homesite; ``ThisSite`` "
            "(imported on first use, together with the site's adapters) is what the DFM "
            f"runtime instantiates for each job.\n\n{HEADER}",
            0,
        )
        out[f"runtime/{sid}/__init__.py"] = _SITE_INIT.format(
            doc=doc,
            session=SESSION_MODULE,
            api_version=py_string(config.info.api_version),
            federation=py_string(fed),
            site=py_string(sid),
            allow_pickle=f"ALLOW_PICKLE: Final[bool] = {config.sites[key].allow_pickle!r}",
            allow_modules=_str_tuple(
                "ALLOW_MODULES: Final[tuple[str, ...]]", allowed_modules(config, key)
            ),
            keep_on_site=_str_frozenset(
                "KEEP_ON_SITE: Final[frozenset[str]]", kept_on_site(config, key)
            ),
        )
        out[f"runtime/{sid}/_this_site.py"] = this_site_module(config, key)
    fed_info = build_fed_info(config).to_json_dict()
    out["runtime/fed_info.json"] = json.dumps(fed_info, indent=2) + "\n"
    return out
