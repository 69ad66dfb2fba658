"""Site code generation: a NetIR becomes a Python module defining ``class ThisNet(Net)``.

A site never runs code it was sent: it receives a NetIR (data), checks every name in
it (``validate_netir``) and generates its own module from it. ``generate_net_source``
writes the text; ``load_net_module`` returns the module, cached in this process and on
disk (see :mod:`dfm.runtime.codegen._load`).
"""

from ._generate import RUNTIME, generate_net_source
from ._load import cache_root, load_net_module, net_module_name, net_module_path
from ._validate import NetIRRefused, validate_netir

__all__ = [
    "RUNTIME",
    "NetIRRefused",
    "cache_root",
    "generate_net_source",
    "load_net_module",
    "net_module_name",
    "net_module_path",
    "validate_netir",
]
