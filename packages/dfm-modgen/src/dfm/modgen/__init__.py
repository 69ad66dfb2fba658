"""Federation configs and ``dfm gen``: an authoring tool, not something a site runs.

A federation config (``*.dfm.yaml``) is loaded and checked (:func:`load_federation_config`)
and becomes the federation's Python package (:func:`generate_federation`). The code a
site generates from the NetIR it receives lives in ``dfm.runtime.codegen``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._adapter_check import check_adapters
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

# The config loader and dfm gen (and YAML) are only imported when used.
_LAZY = {
    "check_adapters": "_adapter_check",
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
    "check_adapters",
    "generate_federation",
    "load_federation_config",
    "load_federation_config_from_dict",
    "load_federation_config_from_string",
    "render_federation",
    "write_federation",
]
