"""A tiny three-site federation package written by hand.

(Time bounds, the cache folder and the ``recorder`` fixtures come from dfm-testkit.)
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FED = "localtestfed"
SITES = ("home", "s1", "s2")

OPS = """
from typing import Any, Literal
from dfm.api import Advise, NodeParam, Operation, PlaceParam

P = Any | NodeParam | PlaceParam | Advise


class Echo(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Echo"] = "{fed}.fed.api.ops.Echo"
    __api_name__ = "ops.Echo"
    x: P = None


class Concat(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Concat"] = "{fed}.fed.api.ops.Concat"
    __api_name__ = "ops.Concat"
    a: P = None
    b: P = None


class Fail(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Fail"] = "{fed}.fed.api.ops.Fail"
    __api_name__ = "ops.Fail"
    msg: P = None


class Sleep(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Sleep"] = "{fed}.fed.api.ops.Sleep"
    __api_name__ = "ops.Sleep"
    seconds: P = None


class SyncSleep(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.SyncSleep"] = "{fed}.fed.api.ops.SyncSleep"
    __api_name__ = "ops.SyncSleep"
    seconds: P = None


class Crash(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Crash"] = "{fed}.fed.api.ops.Crash"
    __api_name__ = "ops.Crash"


class Exit(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Exit"] = "{fed}.fed.api.ops.Exit"
    __api_name__ = "ops.Exit"


class Unsendable(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Unsendable"] = "{fed}.fed.api.ops.Unsendable"
    __api_name__ = "ops.Unsendable"


class Square(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Square"] = "{fed}.fed.api.ops.Square"
    __api_name__ = "ops.Square"
    x: P = None


class Raise(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Raise"] = "{fed}.fed.api.ops.Raise"
    __api_name__ = "ops.Raise"
    kind: P = None


class SyncRaise(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.SyncRaise"] = "{fed}.fed.api.ops.SyncRaise"
    __api_name__ = "ops.SyncRaise"
    kind: P = None


class StopLoop(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.StopLoop"] = "{fed}.fed.api.ops.StopLoop"
    __api_name__ = "ops.StopLoop"


class Secret(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Secret"] = "{fed}.fed.api.ops.Secret"
    __api_name__ = "ops.Secret"


class Count(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Count"] = "{fed}.fed.api.ops.Count"
    __api_name__ = "ops.Count"
    n: P = None


class ACount(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.ACount"] = "{fed}.fed.api.ops.ACount"
    __api_name__ = "ops.ACount"
    n: P = None


class CountRows(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.CountRows"] = "{fed}.fed.api.ops.CountRows"
    __api_name__ = "ops.CountRows"
    rows: P = None


class Blob(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Blob"] = "{fed}.fed.api.ops.Blob"
    __api_name__ = "ops.Blob"
    n: P = None
    kind: P = "bytes"


class Describe(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Describe"] = "{fed}.fed.api.ops.Describe"
    __api_name__ = "ops.Describe"
    x: P = None


class Hog(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Hog"] = "{fed}.fed.api.ops.Hog"
    __api_name__ = "ops.Hog"
    mb: P = None


class Block(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.Block"] = "{fed}.fed.api.ops.Block"
    __api_name__ = "ops.Block"
    seconds: P = None


class MakeSet(Operation):
    dfm_class_name: Literal["{fed}.fed.api.ops.MakeSet"] = "{fed}.fed.api.ops.MakeSet"
    __api_name__ = "ops.MakeSet"
"""

SITE = """
import asyncio
import os
import time

from dfm.runtime import Site

API_VERSION = "1.0"


class ThisSite(Site):
    async def call_ops_Echo(self, x=None):
        return x

    async def call_ops_Concat(self, a=None, b=None):
        return f"{a}{b}"

    async def call_ops_Fail(self, msg=None):
        raise ValueError(f"adapter failed: {msg}")

    async def call_ops_Sleep(self, seconds=None):
        await asyncio.sleep(seconds)
        return seconds

    def call_ops_SyncSleep(self, seconds=None):
        time.sleep(seconds)
        return seconds

    def call_ops_Crash(self):
        os._exit(3)

    async def call_ops_Exit(self):
        raise SystemExit("an adapter called sys.exit()")

    async def call_ops_Unsendable(self):
        import threading

        return threading.Lock()

    async def call_ops_Square(self, x=None):
        return x * x

    def call_ops_Count(self, n=0):
        return iter(range(n))

    async def call_ops_ACount(self, n=0):
        async def count():
            for i in range(n):
                await asyncio.sleep(0)
                yield i

        return count()

    async def call_ops_Raise(self, kind=None):
        raise make_error(kind)

    def call_ops_SyncRaise(self, kind=None):
        raise make_error(kind)

    async def call_ops_StopLoop(self):
        asyncio.get_running_loop().stop()
        return "stopped the loop"

    async def call_ops_Secret(self):
        return {"rows": [1, 2, 3]}

    async def call_ops_CountRows(self, rows=None):
        return len(rows["rows"])

    async def call_ops_Blob(self, n=None, kind="bytes"):
        data = bytes(range(256)) * (n // 256) + bytes(n % 256)
        if kind == "bytearray":
            return bytearray(data)
        if kind == "memoryview":
            return memoryview(data)
        if kind == "nested":
            return {"name": "blob", "parts": [data, (bytearray(data[:10]), 3)]}
        return data

    async def call_ops_Describe(self, x=None):
        if isinstance(x, dict):
            return {k: [type(v).__name__, len(v)] for k, v in x.items() if k == "parts"}
        return [type(x).__name__, len(x), bytes(x[:4]).hex(), bytes(x[-4:]).hex()]

    def call_ops_Hog(self, mb=None):
        for _ in range(mb // 10):
            HOARD.append(bytearray(10 * 2**20))
            time.sleep(0.02)
        return len(HOARD)

    async def call_ops_Block(self, seconds=None):
        time.sleep(seconds)  # blocks the site's event loop, as a careless adapter would
        return seconds

    async def call_ops_MakeSet(self):
        return {1, 2, 3}


HOARD = []


class Custom(BaseException):
    pass


def make_error(kind):
    return {
        "exit": SystemExit("an adapter called sys.exit()"),
        "kbd": KeyboardInterrupt("ctrl-c in an adapter"),
        "genexit": GeneratorExit("closing"),
        "custom": Custom("a custom BaseException"),
    }[kind]
"""

SITE_EXTRA = {"s1": "\nKEEP_ON_SITE = frozenset({'ops.Secret'})\n"}

IS_ASYNC = {
    "ops.Echo": True,
    "ops.Concat": True,
    "ops.Fail": True,
    "ops.Sleep": True,
    "ops.SyncSleep": False,
    "ops.Exit": True,
    "ops.Crash": False,
    "ops.Unsendable": True,
    "ops.Square": True,
    "ops.Count": False,
    "ops.ACount": True,
    "ops.Raise": True,
    "ops.SyncRaise": False,
    "ops.StopLoop": True,
    "ops.Secret": True,
    "ops.CountRows": True,
    "ops.Blob": True,
    "ops.Describe": True,
    "ops.Hog": False,
    "ops.MakeSet": True,
    "ops.Block": True,
}


def write_federation(root: Path) -> None:
    base = root / FED
    for d in (base, base / "fed", base / "fed" / "api", base / "fed" / "runtime"):
        d.mkdir(parents=True, exist_ok=True)
        (d / "__init__.py").write_text("")
    (base / "fed" / "api" / "ops.py").write_text(textwrap.dedent(OPS).replace("{fed}", FED))
    sites: dict[str, Any] = {}
    for site in SITES:
        source = textwrap.dedent(SITE) + SITE_EXTRA.get(site, "")
        (base / "fed" / "runtime" / f"{site}.py").write_text(source)
        sites[site] = {
            "interface": {
                op: {"operation": op, "is_async": a, "compute_cost": {"fixed_time": 1.0}}
                for op, a in IS_ASYNC.items()
            },
            "send_cost": {o: {"fixed_time": 0.1} for o in SITES if o != site},
        }
    (base / "fed" / "runtime" / "fed_info.json").write_text(json.dumps({"sites": sites}))


@pytest.fixture(scope="session")
def federation_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the federation package."""
    root = tmp_path_factory.mktemp("feds")
    write_federation(root)
    return root


@pytest.fixture(scope="session", autouse=True)
def federation(federation_root: Path) -> Iterator[str]:
    """Write the federation package and put it on sys.path."""
    root = federation_root
    sys.path.insert(0, str(root))
    yield FED
    sys.path.remove(str(root))


@pytest.fixture
def ops(federation: str) -> ModuleType:
    """The federation's operation classes."""
    return importlib.import_module(f"{federation}.fed.api.ops")
