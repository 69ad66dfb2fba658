"""Find a federation's generated runtime module for a site."""

from __future__ import annotations

import importlib
from types import ModuleType

from dfm.api import allow_federation, site_identifier

from ._site import Site


def site_runtime_module_name(federation: str, site: str) -> str:
    """``<federation>.fed.runtime.<site>``; a site name is cut at ``@`` (``s1@host`` → ``s1``).

    Raises:
        ValueError: The site's name is not usable (see ``dfm.api.site_identifier``).
    """
    return f"{federation}.fed.runtime.{site_identifier(site)}"


def load_site_runtime_module(federation: str, site: str, *, adapters: bool = True) -> ModuleType:
    """Import the generated runtime module of a site and check what it must export.

    Also allows polymorphic JSON to resolve classes of the federation's generated
    packages (``dfm.api.allow_federation``).

    Args:
        federation: The federation's code package.
        site: The site.
        adapters: Also load and check ``ThisSite``, which imports the site's adapters.
            An application that only needs the module's constants (``API_VERSION``)
            passes False and never imports adapter code.

    Raises:
        ValueError: The module cannot be imported, or lacks ``API_VERSION`` or (with
            ``adapters``) a ``ThisSite`` subclass of :class:`dfm.runtime.Site`.
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
    if not hasattr(module, "API_VERSION"):
        raise ValueError(
            f"Site runtime module {name!r} does not define API_VERSION; regenerate the "
            "federation package with `dfm gen`"
        )
    if adapters:
        _check_this_site(module, name)
    if not isinstance(module.API_VERSION, str):
        raise ValueError(f"{name}.API_VERSION must be a string, not {module.API_VERSION!r}")
    allow_federation(federation)
    return module


def _check_this_site(module: ModuleType, name: str) -> None:
    declared = "ThisSite" in vars(module) or "ThisSite" in getattr(module, "__all__", ())
    if not declared:
        raise ValueError(
            f"Site runtime module {name!r} does not define ThisSite; regenerate the "
            "federation package with `dfm gen`"
        )
    try:
        # Generated packages load ThisSite (and with it the adapters) on first access.
        this_site = module.ThisSite
    except AttributeError as e:
        # E.g. an adapter class missing from its module: say so, not "regenerate".
        raise ValueError(f"Cannot load {name}.ThisSite: {e}") from e
    if not (isinstance(this_site, type) and issubclass(this_site, Site)):
        raise ValueError(
            f"{name}.ThisSite must be a subclass of dfm.runtime.Site, not {this_site!r}"
        )
