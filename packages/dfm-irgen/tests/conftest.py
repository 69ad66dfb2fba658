"""Test operations in a real module, and a small three-site federation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dfm_testkit import importable

from dfm.api import FedInfo, allow_module_prefix

OPS_SOURCE = """
from typing import Any, ClassVar, Literal
from dfm.api import Advise, NodeParam, Operation, PlaceParam


class Echo(Operation):
    dfm_class_name: Literal["irgentestops.Echo"] = "irgentestops.Echo"
    __api_name__ = "ops.Echo"
    x: Any | NodeParam | PlaceParam | Advise = None


class Concat(Operation):
    dfm_class_name: Literal["irgentestops.Concat"] = "irgentestops.Concat"
    __api_name__ = "ops.Concat"
    a: str | NodeParam | PlaceParam | Advise
    b: str | NodeParam | PlaceParam | Advise | None = None


class Rare(Operation):
    dfm_class_name: Literal["irgentestops.Rare"] = "irgentestops.Rare"
    __api_name__ = "ops.Rare"


class Scale(Operation):
    # Typed parameters, as dfm gen declares them.

    dfm_class_name: Literal["irgentestops.Scale"] = "irgentestops.Scale"
    __api_name__ = "ops.Scale"
    dfm_param_schemas: ClassVar[dict[str, Any]] = {
        "k": {"type": ["integer"]},
        "factor": {"type": ["number"], "nullable": True},
        "tags": {"type": ["array"], "items": {"type": ["string"]}, "nullable": True},
        "mode": {"enum": ["fast", "exact"], "nullable": True},
        "blob": {},
    }
    # Fields are Any so that bad literals reach the compiler's check (as they do
    # from pipeline JSON, where an encoded or untyped value bypasses the field type).
    k: Any | NodeParam | PlaceParam
    factor: Any | NodeParam | PlaceParam = None
    tags: Any | NodeParam | PlaceParam = None
    mode: Any | NodeParam | PlaceParam = None
    blob: Any | NodeParam | PlaceParam = None
"""


@pytest.fixture(scope="session", autouse=True)
def test_ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Write the ``irgentestops`` module and make it importable and allowed."""
    with importable(tmp_path_factory.mktemp("ops"), {"irgentestops.py": OPS_SOURCE}) as root:
        allow_module_prefix("irgentestops")
        yield root


def make_fed_info(
    times: dict[str, float],
    send: float | None = 1.0,
    ops: tuple[str, ...] = ("ops.Echo", "ops.Concat"),
    extra: dict[str, Any] | None = None,
) -> FedInfo:
    """Sites with the given fixed compute times; ``send`` seconds between any two sites."""
    sites: dict[str, Any] = {}
    for name, t in times.items():
        sites[name] = {
            "interface": {op: {"operation": op, "compute_cost": {"fixed_time": t}} for op in ops},
            "send_cost": {}
            if send is None
            else {o: {"fixed_time": send} for o in times if o != name},
        }
    for name, more in (extra or {}).items():
        sites[name].update(more)
    return FedInfo.model_validate({"sites": sites})


@pytest.fixture
def fed_info_of() -> Any:
    """The :func:`make_fed_info` factory (test modules cannot import conftest)."""
    return make_fed_info


@pytest.fixture
def fed3() -> FedInfo:
    """``app`` (homesite, slow), ``s1`` (fast), ``s2`` (medium); sends cost 1 s."""
    return make_fed_info({"app": 5, "s1": 1, "s2": 2})
