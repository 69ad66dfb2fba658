"""JobController: everything one site needs to run its part of one job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from dfm.api import DecodePolicy

from ._context import DfmContext
from ._keep import check_keep_on_site
from ._loader import load_site_runtime_module
from ._net import Net
from ._package import Router
from ._policy import trust_of_module
from ._runner import NetRunner

if TYPE_CHECKING:
    from dfm.irgen import NetIR


def _major(version: str) -> str:
    return version.strip().split(".", 1)[0]


class JobController:
    """Loads the site's code for a NetIR and builds the job's :class:`NetRunner`.

    Raises on any failure (a NetIR that breaks the site's rules, unknown site module,
    API major version mismatch, a literal the site's policy refuses, a broken net module,
    a failing ``ThisSite`` constructor), so a target can report it.

    Args:
        netir: This site's net.
        job_id: The job.
        router: Carries tokens to other sites and the application.
        logger: The job's logger on this site.
        decode_policy: What this site accepts from other sites; None: the site's own
            policy from its runtime package (see :func:`dfm.runtime.site_trust`).
        force_modgen: Regenerate the net module even if cached.
        executor: Where sync adapters run (shared per site by the target); None: the
            loop's default executor.
        site_kwargs: Extra ``ThisSite`` arguments (``cache_config``,
            ``secrets_vault_config``, impl args).
        loop: The loop the runner runs on (see :class:`NetRunner`).
        trace_context: The job's W3C trace context headers, shipped by the application's
            target with the job's creation (see ``dfm.runtime.current_trace_context``);
            untrusted, and ignored while telemetry is off.
    """

    def __init__(
        self,
        netir: NetIR,
        *,
        job_id: str,
        router: Router,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        decode_policy: DecodePolicy | None = None,
        force_modgen: bool = False,
        executor: Executor | None = None,
        site_kwargs: Mapping[str, Any] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> None:
        """Load the site runtime and net modules and build the runner."""
        from .codegen import load_net_module, validate_netir

        validate_netir(netir)  # before any name in it is used
        federation = netir.federation_name
        module = load_site_runtime_module(federation, netir.site)
        trust = trust_of_module(module, netir.site)
        check_keep_on_site(netir, trust.keep_on_site)
        if decode_policy is None:
            decode_policy = trust.policy
        if netir.api_version and _major(module.API_VERSION) != _major(netir.api_version):
            raise ValueError(
                f"API major version mismatch on site {netir.site!r}: the site runs federation "
                f"API {module.API_VERSION} but the pipeline was built with {netir.api_version}; "
                "use a federation package of the same major version on both sides"
            )
        net_module = load_net_module(netir, federation, force=force_modgen, policy=decode_policy)
        net_class = getattr(net_module, "ThisNet", None)
        if not (isinstance(net_class, type) and issubclass(net_class, Net)):
            raise ValueError(f"Net module {net_module.__name__} has no ThisNet class")
        self.netir = netir
        self.ctx = DfmContext(
            job_id,
            federation,
            netir.homesite,
            netir.site,
            netir.api_version or module.API_VERSION,
            router,
            logger,
            decode_policy,
        )
        self.site = module.ThisSite(self.ctx, **dict(site_kwargs or {}))
        self.runner = NetRunner(
            net_class,
            self.ctx,
            self.site,
            executor=executor,
            loop=loop,
            trace_context=trace_context,
        )
