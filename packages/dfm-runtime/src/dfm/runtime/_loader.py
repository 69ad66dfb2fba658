"""Find a federation's generated runtime module for a site."""

from __future__ import annotations

import importlib
from types import ModuleType

from dfm.api import allow_module_prefix

from ._site import Site


def site_runtime_module_name(federation: str, site: str) -> str:
    """``<federation>.fed.runtime.<site>``; a site name is cut at ``@`` (``s1@host`` → ``s1``)."""
    return f"{federation}.fed.runtime.{site.split('@', 1)[0]}"


def load_site_runtime_module(federation: str, site: str) -> ModuleType:
    """Import the generated runtime module of a site and check what it must export.

    Also allows polymorphic JSON to resolve classes of the federation package.

    Raises:
        ValueError: The module cannot be imported, or lacks ``API_VERSION`` or a
            ``ThisSite`` subclass of :class:`dfm.runtime.Site`.
    """
    name = site_runtime_module_name(federation, site)
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise ValueError(
            f"Cannot import {name!r}, the runtime module of site {site!r} of federation "
            f"{federation!r}: {e}. Is the federation package installed (generated with "
            "`dfm gen`) and does it have this site?"
        ) from e
    missing = [attr for attr in ("API_VERSION", "ThisSite") if not hasattr(module, attr)]
    if missing:
        raise ValueError(
            f"Site runtime module {name!r} does not define {' and '.join(missing)}; "
            "regenerate the federation package with `dfm gen`"
        )
    this_site = module.ThisSite
    if not (isinstance(this_site, type) and issubclass(this_site, Site)):
        raise ValueError(
            f"{name}.ThisSite must be a subclass of dfm.runtime.Site, not {this_site!r}"
        )
    if not isinstance(module.API_VERSION, str):
        raise ValueError(f"{name}.API_VERSION must be a string, not {module.API_VERSION!r}")
    allow_module_prefix(federation)
    return module
