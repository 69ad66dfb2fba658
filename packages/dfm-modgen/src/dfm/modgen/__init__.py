"""Code generation for DFM.

Two generators live here, both pure text producers:

* ``dfm gen``: a federation config (``*.dfm.yaml``) becomes the federation's Python
  package (:func:`load_federation_config`, :func:`generate_federation`);
* site code: a site turns the NetIR it receives into a Python module it runs
  (:func:`generate_net_source`, :func:`load_net_module`).
"""

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
