"""SiteHost: where one site runs the jobs of a target, and what it reports back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol

from ._params import EncodedParams

if TYPE_CHECKING:
    from dfm.irgen import NetIR

    from ._package import TokenPackage


class HostEvents(Protocol):
    """What a site host reports to the target (from any thread; must not block)."""

    def site_done(self, job_id: str, site: str, error: str | None) -> None:
        """The site's runner of the job ended (``error``: why, if it failed)."""

    def yield_package(self, job_id: str, item: TokenPackage | bytes) -> None:
        """A token for the application (a package, or its wire bytes)."""

    def site_died(self, site: str, reason: str) -> None:
        """The site's thread or process is gone; its jobs cannot go on."""


class SiteHost(ABC):
    """One site of the federation: runs the site's part of every job that uses it.

    Args:
        site: The site's name.
    """

    def __init__(self, site: str) -> None:
        """Name the host."""
        self.site = site

    @abstractmethod
    def create(
        self,
        job_id: str,
        netir: NetIR,
        force_modgen: bool,
        trace_context: Mapping[str, str] | None = None,
    ) -> Future[None]:
        """Build and start the job's runner on the site; the future fails with the reason.

        ``trace_context`` is the job's W3C trace context (``current_trace_context()``),
        the parent of the site's run span.
        """

    @abstractmethod
    def inject(self, job_id: str, params: EncodedParams) -> None:
        """Feed the application's parameter sets (or the stop frame) to the job's runner."""

    @abstractmethod
    def deliver(self, item: TokenPackage | bytes) -> None:
        """Deliver a package from another site (or its wire bytes)."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Cancel the job's runner on this site (promptly, from any thread)."""

    @property
    @abstractmethod
    def alive(self) -> bool:
        """Whether the site can run jobs."""

    @abstractmethod
    def close(self, timeout: float) -> None:
        """Stop the site, waiting at most ``timeout`` seconds."""
