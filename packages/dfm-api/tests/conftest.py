"""Test operations live in a real module so polymorphic JSON can resolve them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dfm_testkit import importable

from dfm.api import allow_module_prefix

OPS_SOURCE = """
from typing import Any, Literal
from pydantic import BaseModel
from dfm.api import Advise, NodeParam, Operation, PlaceParam


class Point(BaseModel):
    x: float
    y: float


class Echo(Operation):
    dfm_class_name: Literal["dfmtestops.Echo"] = "dfmtestops.Echo"
    __api_name__ = "ops.Echo"
    x: Any | NodeParam | PlaceParam | Advise = None


class Concat(Operation):
    dfm_class_name: Literal["dfmtestops.Concat"] = "dfmtestops.Concat"
    __api_name__ = "ops.Concat"
    a: str | NodeParam | PlaceParam | Advise
    b: str | NodeParam | PlaceParam | Advise | None = None


class Shape(Operation):
    dfm_class_name: Literal["dfmtestops.Shape"] = "dfmtestops.Shape"
    __api_name__ = "geo.Shape"
    points: dict[str, Any] | NodeParam | PlaceParam | Advise
    origin: Point | NodeParam | PlaceParam | Advise | None = None
"""


@pytest.fixture(scope="session", autouse=True)
def test_ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Write the ``dfmtestops`` module and make it importable and allowed."""
    with importable(tmp_path_factory.mktemp("ops"), {"dfmtestops.py": OPS_SOURCE}) as root:
        allow_module_prefix("dfmtestops")
        yield root
