"""A tiny three-site federation package for the local-target benchmarks.

Sites ``home``, ``s1``, ``s2``; operations ``ops.Echo(x)`` (async) and
``ops.Inc(x)`` (sync, returns x + 1). Written by hand, like a ``dfm gen`` output
reduced to what the runtime needs.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

FED = "benchlocalfed"
SITES = ("home", "s1", "s2")

OPS = """
from typing import Any, Literal
from dfm.api import NodeParam, Operation, PlaceParam


class Echo(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Echo"] = "{fed}.fed.api.ops.Echo"
    __api_name__ = "ops.Echo"
    x: Any | NodeParam | PlaceParam = None


class Inc(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Inc"] = "{fed}.fed.api.ops.Inc"
    __api_name__ = "ops.Inc"
    x: Any | NodeParam | PlaceParam = None
"""

SITE = """
from dfm.runtime import Site

API_VERSION = "1.0"


class ThisSite(Site):
    async def call_ops_Echo(self, x=None):
        return x

    def call_ops_Inc(self, x=None):
        return x + 1
"""


def write_federation(root: Path) -> str:
    """Write the package under ``root`` and return its name."""
    base = root / FED
    for d in (base, base / "fed", base / "fed" / "api", base / "fed" / "runtime"):
        d.mkdir(parents=True, exist_ok=True)
        (d / "__init__.py").write_text("")
    (base / "fed" / "api" / "ops.py").write_text(textwrap.dedent(OPS).replace("{fed}", FED))
    sites = {}
    for site in SITES:
        (base / "fed" / "runtime" / f"{site}.py").write_text(textwrap.dedent(SITE))
        sites[site] = {
            "interface": {
                "ops.Echo": {"operation": "ops.Echo", "is_async": True},
                "ops.Inc": {"operation": "ops.Inc", "is_async": False},
            },
            "send_cost": {o: {"fixed_time": 0.1} for o in SITES if o != site},
        }
    (base / "fed" / "runtime" / "fed_info.json").write_text(json.dumps({"sites": sites}))
    return FED
