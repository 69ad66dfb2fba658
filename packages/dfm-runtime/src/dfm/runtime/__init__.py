"""The DFM site runtime: what adapters see (Site, Provider) and what runs them.

A target runs one site's part of a job like this::

    controller = JobController(netir, job_id=job_id, router=router, logger=logger)
    runner = controller.runner        # on the loop that will run it
    runner.start()
    for frame, inputs in params:      # then the stop frame
        runner.inject(frame, inputs)
    await runner.done

Tokens for other sites and yields leave through the target's :class:`Router` as
:class:`TokenPackage` objects; packages from other sites enter with
``runner.deliver_package``.
"""

from dfm.api import (
    TRUSTED,
    DecodePolicy,
    FlowInfo,
    Frame,
    SerializationError,
    decode_value,
    encode_value,
)

from ._context import FLOW, STOP_TOKEN, DfmContext, select
from ._job import JobController
from ._loader import load_site_runtime_module, site_runtime_module_name
from ._net import Net, SendSpec, TransitionSpec, done_value
from ._package import Router, TokenPackage
from ._runner import NetRunner
from ._secrets import SecretsVault, SecretsVaultConfig
from ._site import CacheConfig, Provider, Site

__all__ = [
    "FLOW",
    "STOP_TOKEN",
    "TRUSTED",
    "CacheConfig",
    "DecodePolicy",
    "DfmContext",
    "FlowInfo",
    "Frame",
    "JobController",
    "Net",
    "NetRunner",
    "Provider",
    "Router",
    "SecretsVault",
    "SecretsVaultConfig",
    "SendSpec",
    "done_value",
    "SerializationError",
    "Site",
    "TokenPackage",
    "TransitionSpec",
    "decode_value",
    "encode_value",
    "load_site_runtime_module",
    "select",
    "site_runtime_module_name",
]
