"""``<pkg>/fed/runtime``: per-site packages and ``fed_info.json``."""

from __future__ import annotations

import json
import logging

from dfm.api import ComputeCostInfo, FedInfo, OperationInfo, ProviderInfo, SendCostInfo, SiteInfo

from ..config import AdapterBinding, FederationConfig, site_identifier
from ._layout import HEADER
from ._source import docstring, py_string
from ._this_site import this_site_module

__all__ = ["DEFAULT_COMPUTE_COST", "SESSION_MODULE", "build_fed_info", "runtime_files"]

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

__all__ = ["API_VERSION", "FEDERATION_NAME", "SITE_NAME", "ThisSite", "get_session"]

API_VERSION: Final = {api_version}
FEDERATION_NAME: Final = {federation}
SITE_NAME: Final = {site}


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
    return OperationInfo(operation=op, compute_cost=info, is_async=binding.is_async)


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
        )
        out[f"runtime/{sid}/_this_site.py"] = this_site_module(config, key)
    fed_info = build_fed_info(config).to_json_dict()
    out["runtime/fed_info.json"] = json.dumps(fed_info, indent=2) + "\n"
    return out
