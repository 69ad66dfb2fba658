"""Code generation for DFM.

Two generators live here, both pure text producers:

* ``dfm gen``: a federation config (``*.dfm.yaml``) becomes the federation's Python
  package (:func:`load_federation_config`, :func:`generate_federation`);
* site code: a site turns the NetIR it receives into a Python module it runs
  (:func:`generate_net_source`, :func:`load_net_module`).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .apigen import (
        GenerationError,
        GenerationReport,
        build_fed_info,
        generate_federation,
        render_federation,
        write_federation,
    )
    from .config import (
        ConfigError,
        ConfigIssue,
        FederationConfig,
        load_federation_config,
        load_federation_config_from_dict,
        load_federation_config_from_string,
    )
    from .net import generate_net_source, load_net_module

# Sites import dfm.modgen.net on every cold start; the config loader and dfm gen (and
# YAML) are only imported when used.
_LAZY = {
    "GenerationError": "apigen",
    "GenerationReport": "apigen",
    "build_fed_info": "apigen",
    "generate_federation": "apigen",
    "render_federation": "apigen",
    "write_federation": "apigen",
    "ConfigError": "config",
    "ConfigIssue": "config",
    "FederationConfig": "config",
    "load_federation_config": "config",
    "load_federation_config_from_dict": "config",
    "load_federation_config_from_string": "config",
    "generate_net_source": "net",
    "load_net_module": "net",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dfm.modgen' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "ConfigError",
    "ConfigIssue",
    "FederationConfig",
    "GenerationError",
    "GenerationReport",
    "build_fed_info",
    "generate_federation",
    "generate_net_source",
    "load_federation_config",
    "load_federation_config_from_dict",
    "load_federation_config_from_string",
    "load_net_module",
    "render_federation",
    "write_federation",
]
