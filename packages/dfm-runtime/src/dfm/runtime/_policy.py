"""What a site accepts: its decode policy and keep-on-site operations, from its config.

``dfm gen`` writes a site's trust settings into its runtime package
(``<federation>.fed.runtime.<site>``) as constants that import without the adapters:
``ALLOW_PICKLE: bool``, ``ALLOW_MODULES: tuple[str, ...]`` and ``KEEP_ON_SITE:
frozenset[str]`` (operation names; ``provider:operation`` for a provider's). A
package without them (older, or written by hand) gets the restrictive defaults: no
pickles, no model classes outside ``dfm`` and the federation, nothing kept on site.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from dfm.api import DecodePolicy, SerializationError, decode_value

from ._loader import load_site_runtime_module

_POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(DecodePolicy))


@dataclass(frozen=True)
class SiteTrust:
    """A site's trust settings, as its federation config declares them.

    Attributes:
        site: The site.
        policy: How the site decodes what it receives (parameters, packages, literals).
        keep_on_site: Operations whose results never leave the site (``op`` or
            ``provider:op``).
    """

    site: str
    policy: DecodePolicy
    keep_on_site: frozenset[str] = frozenset()


def _setting(module: ModuleType, name: str, kind: type, default: Any) -> Any:
    value = getattr(module, name, default)
    if not isinstance(value, kind):
        raise ValueError(
            f"{module.__name__}.{name} must be a {kind.__name__}, not {value!r:.80}; "
            "regenerate the federation package with `dfm gen`"
        )
    return value


def trust_of_module(module: ModuleType, site: str) -> SiteTrust:
    """The trust settings in a site runtime module (restrictive where it has none).

    Raises:
        ValueError: A setting has the wrong type.
    """
    allow_pickle = _setting(module, "ALLOW_PICKLE", bool, False)
    modules = _setting(module, "ALLOW_MODULES", tuple, ())
    keep = _setting(module, "KEEP_ON_SITE", frozenset, frozenset())
    if not all(isinstance(m, str) for m in modules) or not all(isinstance(k, str) for k in keep):
        raise ValueError(f"{module.__name__}: ALLOW_MODULES and KEEP_ON_SITE hold strings only")
    args: dict[str, Any] = {"allow_pickle": allow_pickle}
    if "allow_modules" in _POLICY_FIELDS:
        args["allow_modules"] = modules
    return SiteTrust(site, DecodePolicy(**args), frozenset(keep))


def site_trust(federation: str, site: str) -> SiteTrust:
    """The trust settings of a site, read from its generated runtime package.

    Imports ``<federation>.fed.runtime.<site>`` without the adapters.

    Raises:
        ValueError: The package cannot be imported, or a setting has the wrong type.
    """
    return trust_of_module(load_site_runtime_module(federation, site, adapters=False), site)


def site_decode_policy(federation: str, site: str) -> DecodePolicy:
    """The decode policy of a site (see :func:`site_trust`)."""
    return site_trust(federation, site).policy


def decode_literal(tagged: Any, policy: DecodePolicy, where: str) -> Any:
    """Decode a literal of a NetIR under the site's policy (generated net modules call this).

    Raises:
        ValueError: The policy refuses the literal, or it is malformed; the message
            starts with ``where`` (which names the site, transition, node and parameter).
    """
    try:
        return decode_value(tagged, policy)
    except Exception as e:
        rule = str(e) if isinstance(e, SerializationError) else f"{type(e).__name__}: {e}"
        raise ValueError(f"{where}: {rule}") from e
