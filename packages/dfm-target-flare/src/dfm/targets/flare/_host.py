"""The site host and parameter encoding every DFM target shares (from dfm-runtime)."""

from __future__ import annotations

import logging
from typing import Any

from dfm.api import Frame
from dfm.runtime import EncodedParams, Router, SiteHost, SiteThread, encode_params

__all__ = [
    "EncodedParams",
    "SiteHost",
    "encode_params",
    "new_site_host",
    "params_from_wire",
    "params_to_wire",
]


def new_site_host(
    site: str, router: Router, events: Any, logger: logging.Logger, federation: str | None
) -> SiteHost:
    """A site on its own thread and event loop, decoding under its own policy.

    The policy is the site's ``ALLOW_PICKLE``/``ALLOW_MODULES`` from its generated
    runtime package (restrictive where the package has none); a NetIR of another
    federation than ``federation`` is refused (None: not checked).
    """
    return SiteThread(site, router, events, logger, federation=federation)


def params_to_wire(params: EncodedParams) -> list[Any]:
    """Encoded parameter sets as plain JSON/msgpack data."""
    return [[frame.to_json(), {k: list(v) for k, v in values.items()}] for frame, values in params]


def params_from_wire(data: Any) -> EncodedParams:
    """The inverse of :func:`params_to_wire` (untrusted input: checked).

    Raises:
        ValueError: The data is not a list of ``[frame, {name: [tag, value]}]``.
    """
    if not isinstance(data, list):
        raise ValueError("parameter sets must be a list")
    params: EncodedParams = []
    for item in data:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], dict):
            raise ValueError("a parameter set must be [frame, {name: [tag, value]}]")
        frame = Frame.from_json(item[0])
        values: dict[str, tuple[str, Any]] = {}
        for name, tagged in item[1].items():
            if (
                not isinstance(name, str)
                or not isinstance(tagged, list)
                or len(tagged) != 2
                or not isinstance(tagged[0], str)
            ):
                raise ValueError(f"parameter {name!r} is not a [tag, value] pair")
            values[name] = (tagged[0], tagged[1])
        params.append((frame, values))
    return params
