"""The DFM site runtime: what adapters see (Site, Provider) and what runs them.

Every target hosts its sites with the same machinery. The simplest way is a
:class:`SiteThread`, a :class:`SiteHost` running one site on a thread of its own::

    host = SiteThread("north", router, events, logger)
    host.create(job_id, netir, force_modgen=False).result()   # checks and loads the net
    host.inject(job_id, encode_params(framed_params))          # the application's input
    host.deliver(package_from_another_site)                    # TokenPackage or wire bytes

Tokens for other sites and yields leave through the target's :class:`Router` as
:class:`TokenPackage` objects; the host reports job ends and yields to its
:class:`HostEvents`. Underneath, :class:`SiteRunners` keeps a site's job runners on
one event loop (a target may run it on a loop of its own, e.g. in a site process),
and a :class:`JobController` builds one job's :class:`NetRunner` from its NetIR.

Telemetry: :mod:`dfm.runtime.telemetry` holds the hooks (OpenTelemetry API only, one
boolean check each while off); :func:`start_telemetry` switches them on through the
``dfm-telemetry`` distribution, and a target ships :func:`current_trace_context` with
each job's creation so that every site's spans join the job's trace.
"""

from dfm.api import (
    TRUSTED,
    CacheConfig,
    DecodePolicy,
    FlowInfo,
    Frame,
    SecretsVaultConfig,
    SerializationError,
    decode_value,
    encode_value,
)

from . import _telemetry as telemetry
from ._advice import MAX_ADVISOR_CALLS, advice_report, build_advice, discover
from ._advisors import AdviceContext, AdvisorSpec, field_advisor
from ._context import FLOW, SKIP, STOP_TOKEN, DfmContext, select
from ._host import HostEvents, SiteHost
from ._job import JobController
from ._loader import load_site_runtime_module, site_runtime_module_name
from ._loops import close_event_loop
from ._net import PLAIN_TYPES, BlockSpec, Net, SendSpec, TransitionSpec, done_value, is_stream
from ._package import Router, TokenPackage, to_wire_or_error
from ._params import EncodedParams, decode_params, encode_params
from ._payload import decode_payload, encode_payload
from ._policy import SiteTrust, decode_literal, site_decode_policy, site_trust
from ._pool import DaemonThreadPool
from ._runner import NetRunner
from ._secrets import SecretsVault, SecretsVaultError, create_secrets_vault
from ._site import Provider, Site
from ._site_runners import JobCancelledError, SiteRunners
from ._site_thread import SiteThread
from ._telemetry import TelemetryBackend, current_trace_context
from ._telemetry_span import TelemetrySpan
from ._telemetry_switch import (
    child_environment,
    shutdown_telemetry,
    start_telemetry,
    telemetry_requested,
)

__all__ = [
    "FLOW",
    "MAX_ADVISOR_CALLS",
    "PLAIN_TYPES",
    "SKIP",
    "STOP_TOKEN",
    "TRUSTED",
    "AdviceContext",
    "AdvisorSpec",
    "BlockSpec",
    "CacheConfig",
    "DaemonThreadPool",
    "DecodePolicy",
    "DfmContext",
    "EncodedParams",
    "FlowInfo",
    "Frame",
    "HostEvents",
    "JobCancelledError",
    "JobController",
    "Net",
    "NetRunner",
    "Provider",
    "Router",
    "SecretsVault",
    "SecretsVaultConfig",
    "close_event_loop",
    "create_secrets_vault",
    "SecretsVaultError",
    "SendSpec",
    "SerializationError",
    "Site",
    "SiteHost",
    "SiteRunners",
    "SiteThread",
    "SiteTrust",
    "TelemetryBackend",
    "TelemetrySpan",
    "TokenPackage",
    "TransitionSpec",
    "advice_report",
    "build_advice",
    "child_environment",
    "current_trace_context",
    "decode_literal",
    "decode_params",
    "decode_payload",
    "decode_value",
    "done_value",
    "encode_params",
    "discover",
    "encode_payload",
    "encode_value",
    "field_advisor",
    "is_stream",
    "load_site_runtime_module",
    "select",
    "site_decode_policy",
    "shutdown_telemetry",
    "site_runtime_module_name",
    "site_trust",
    "to_wire_or_error",
    "start_telemetry",
    "telemetry",
    "telemetry_requested",
]
