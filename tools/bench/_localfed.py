"""A tiny three-site federation package for the local-target benchmarks.

Sites ``home``, ``s1``, ``s2``; operations ``ops.Echo(x)`` (async), ``ops.Inc(x)``
(sync, returns x + 1), ``ops.Range(n)`` (async, the list ``0..n-1``), ``ops.Count(n)``
(sync, a generator of ``0..n-1`` that notes when it produced its first element in
``FIRST_PRODUCED``), and for the wire benchmarks ``ops.Blob(n)`` (n bytes; notes when
it returned them), ``ops.Arrive(x)`` (notes when a value arrived; its length) and
``ops.Clock()`` (what Blob/Arrive noted, with the site's peak RSS). Written by hand, like
a ``dfm gen`` output reduced to what the runtime needs.
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


class Range(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Range"] = "{fed}.fed.api.ops.Range"
    __api_name__ = "ops.Range"
    n: Any | NodeParam | PlaceParam = None


class Count(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Count"] = "{fed}.fed.api.ops.Count"
    __api_name__ = "ops.Count"
    n: Any | NodeParam | PlaceParam = None


class Blob(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Blob"] = "{fed}.fed.api.ops.Blob"
    __api_name__ = "ops.Blob"
    n: Any | NodeParam | PlaceParam = None


class Arrive(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Arrive"] = "{fed}.fed.api.ops.Arrive"
    __api_name__ = "ops.Arrive"
    x: Any | NodeParam | PlaceParam = None


class Clock(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Clock"] = "{fed}.fed.api.ops.Clock"
    __api_name__ = "ops.Clock"
"""

SITE = """
import resource
import time

from dfm.runtime import Site

API_VERSION = "1.0"
FIRST_PRODUCED = []
NOTED = {}


class ThisSite(Site):
    async def call_ops_Echo(self, x=None):
        return x

    def call_ops_Inc(self, x=None):
        return x + 1

    async def call_ops_Range(self, n=0):
        return list(range(n))

    def call_ops_Count(self, n=0):
        def count():
            for i in range(n):
                if i == 0:
                    FIRST_PRODUCED.append(time.perf_counter())
                yield i

        return count()

    async def call_ops_Blob(self, n=None):
        data = bytes(range(256)) * (n // 256)  # written memory, not untouched zero pages
        NOTED["sent"] = time.monotonic()
        return data

    async def call_ops_Arrive(self, x=None):
        NOTED["arrived"] = time.monotonic()
        return len(x)

    async def call_ops_Clock(self):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {**NOTED, "peak_rss": peak}
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
                "ops.Range": {"operation": "ops.Range", "is_async": True},
                "ops.Count": {"operation": "ops.Count", "is_async": False},
                "ops.Blob": {"operation": "ops.Blob", "is_async": True},
                "ops.Arrive": {"operation": "ops.Arrive", "is_async": True},
                "ops.Clock": {"operation": "ops.Clock", "is_async": True},
            },
            "send_cost": {o: {"fixed_time": 0.1} for o in SITES if o != site},
        }
    (base / "fed" / "runtime" / "fed_info.json").write_text(json.dumps({"sites": sites}))
    return FED
