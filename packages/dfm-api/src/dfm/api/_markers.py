"""Markers placed in operation parameters: PlaceParam, BestOf, Advise."""

from __future__ import annotations

import keyword
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ._names import check_user_place_name


class PlaceParam(BaseModel):
    """A parameter whose value is supplied at execute time under the key ``place``.

    ``multiuse=True`` must be set on every use of a place that is used more than once;
    one value then feeds all uses.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tag: Literal["@dfm-place-param"] = "@dfm-place-param"
    place: str
    multiuse: bool = False

    @field_validator("place")
    @classmethod
    def _valid_place(cls, value: str) -> str:
        return check_user_place_name(value, "PlaceParam")


class BestOf(BaseModel):
    """Let the compiler choose the site, among ``sites`` if given, else among all."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tag: Literal["@dfm-best-of"] = "@dfm-best-of"
    sites: list[str] | None = None

    @field_validator("sites")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("BestOf(sites=[]) allows no site; pass None to allow all sites")
        return value


class Advise(BaseModel):
    """Ask discovery to advise a value for this field; in execute mode it is passed as is."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tag: Literal["@dfm-advise"] = "@dfm-advise"


def is_identifier(name: str) -> bool:
    """Whether ``name`` is a Python identifier that is not a keyword."""
    return name.isidentifier() and not keyword.iskeyword(name)
