"""FedInfo: what each site offers and what it costs (the content of fed_info.json)."""

from __future__ import annotations

import importlib
import json
import keyword
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ComputeCostInfo(BaseModel):
    """Estimated cost of running an operation on a site.

    Time is ``fixed_time + input_size / compute_throughput`` (seconds; the second term
    only when a throughput is set); output size is ``fixed_size + output_factor *
    input_size`` (bytes).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    fixed_time: float = 0.0
    compute_throughput: float | None = None
    fixed_size: int = 0
    output_factor: float = 0.0

    def time(self, input_size: float) -> float:
        """Estimated run time for an input of ``input_size`` bytes."""
        extra = input_size / self.compute_throughput if self.compute_throughput else 0.0
        return self.fixed_time + extra

    def size(self, input_size: float) -> int:
        """Estimated output size for an input of ``input_size`` bytes."""
        extra = int(self.output_factor * input_size) if self.output_factor else 0
        return self.fixed_size + extra


class SendCostInfo(BaseModel):
    """Estimated cost of sending data from one site to another.

    Time is ``fixed_time + size / bandwidth`` (the second term only when a bandwidth is
    set).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    fixed_time: float = 0.0
    bandwidth: float | None = None

    def time(self, size: float) -> float:
        """Estimated time to send ``size`` bytes."""
        return self.fixed_time + (size / self.bandwidth if self.bandwidth else 0.0)


class OperationInfo(BaseModel):
    """One operation a site (or provider) offers, with its cost and call style.

    Attributes:
        operation: The operation's name in the federation config.
        compute_cost: Its estimated cost there.
        is_async: Whether the adapter's ``body`` is a coroutine.
        keep_on_site: Its results never leave that site (``keep-on-site`` in the
            config): the compiler places every consumer on the same site.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    operation: str
    compute_cost: ComputeCostInfo = Field(default_factory=ComputeCostInfo)
    is_async: bool = True
    keep_on_site: bool = False


class ProviderInfo(BaseModel):
    """The operations of one provider on a site."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    interface: dict[str, OperationInfo] = Field(default_factory=dict)


class SiteInfo(BaseModel):
    """What one site offers and what sending from it costs."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    interface: dict[str, OperationInfo] = Field(default_factory=dict)
    providers: dict[str, ProviderInfo] = Field(default_factory=dict)
    send_cost: dict[str, SendCostInfo] = Field(default_factory=dict)

    @field_validator("send_cost")
    @classmethod
    def _target_identifiers(cls, costs: dict[str, SendCostInfo]) -> dict[str, SendCostInfo]:
        # Sites are known by identifier (``alpha`` for ``alpha@x.com``); so are targets.
        return {site_identifier(name): cost for name, cost in costs.items()}


def site_identifier(site: str) -> str:
    """The name of a site in code: its name up to the first ``@``.

    NVFlare admin users have e-mail names, so ``concierge@examplefed.com`` is site
    ``concierge``. This is the one rule every package applies (the config, the code
    generator, the compiler's cost model and the site loader): the result names the
    site's generated module, so it must be a Python identifier that is not a keyword.

    Args:
        site: A site name or config key, with or without ``@host``.

    Returns:
        The part before ``@``.

    Raises:
        ValueError: That part is not a Python identifier, or is a keyword.
    """
    ident = site.split("@", 1)[0]
    if not ident.isidentifier() or keyword.iskeyword(ident):
        raise ValueError(
            f"Site name {site!r} is not usable: the part before '@' ({ident!r}) must be a "
            "Python identifier that is not a keyword (letters, digits and underscores, not "
            "starting with a digit)"
        )
    return ident


class FedInfo(BaseModel):
    """The cost model of a federation: its sites, their operations and send costs."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    sites: dict[str, SiteInfo] = Field(default_factory=dict)

    @field_validator("sites")
    @classmethod
    def _site_identifiers(cls, sites: dict[str, SiteInfo]) -> dict[str, SiteInfo]:
        return {site_identifier(name): info for name, info in sites.items()}

    def operation_info(
        self, site: str, operation: str, provider: str | None = None
    ) -> OperationInfo | None:
        """The info of ``operation`` on ``site`` (in ``provider``'s interface if given)."""
        info = self.sites.get(site)
        if info is None:
            return None
        if provider is None:
            return info.interface.get(operation)
        prov = info.providers.get(provider)
        return prov.interface.get(operation) if prov else None

    @classmethod
    def from_json_file_text(cls, text: str) -> FedInfo:
        """Parse the text of a fed_info.json file."""
        return cls.model_validate(json.loads(text))

    @classmethod
    def load_from_package(cls, federation: str) -> FedInfo:
        """Load ``<federation>/fed/runtime/fed_info.json`` from an installed package.

        Raises:
            ValueError: The package or its fed_info.json cannot be found.
        """
        try:
            # Read next to the module rather than through importlib.resources, whose
            # import alone costs tens of milliseconds of every cold start.
            runtime = importlib.import_module(f"{federation}.fed.runtime")
            folder = Path(runtime.__file__ or "").parent
            text = (folder / "fed_info.json").read_text(encoding="utf-8")
        except (ModuleNotFoundError, FileNotFoundError) as e:
            raise ValueError(
                f"Cannot load fed_info.json of federation {federation!r}: {e}. Generate the "
                f"federation package with `dfm gen` and make it importable"
            ) from e
        return cls.from_json_file_text(text)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON-able form written to fed_info.json."""
        return self.model_dump(mode="json")
