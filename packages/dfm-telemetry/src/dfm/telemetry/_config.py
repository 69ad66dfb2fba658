"""TelemetryConfig: what the ``OTEL_*`` and ``DFM_TELEMETRY_*`` variables ask for."""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dfm.runtime import telemetry_requested

Exporter = Literal["otlp", "console", "none"]
Protocol = Literal["http/protobuf", "grpc"]
ForwardMode = Literal["auto", "app", "direct"]

_EXPORTERS = ("otlp", "console", "none")
_PROTOCOLS = ("http/protobuf", "grpc")
_FORWARD = ("auto", "app", "direct")
_SECONDS_UP_TO = 120.0  # OTEL_EXPORTER_OTLP_TIMEOUT values up to this are seconds

_log = logging.getLogger("dfm.telemetry")


def _choice(
    env: Mapping[str, str], names: tuple[str, ...], allowed: tuple[str, ...], default: str
) -> str:
    for name in names:
        raw = env.get(name, "").strip()
        if raw:
            value = raw.lower()
            if value not in allowed:
                raise ValueError(
                    f"{name}={raw!r} is not supported by DFM; use one of {', '.join(allowed)}"
                )
            return value
    return default


def _exporter(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return "otlp"
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in _EXPORTERS]
    if unknown or len(names) != 1:
        raise ValueError(
            f"{name}={env[name]!r} is not supported by DFM; use one of {', '.join(_EXPORTERS)}"
        )
    return names[0]


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={env[name]!r} is not understood; use 1 or 0")


def _number(env: Mapping[str, str], name: str, default: float, least: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < least:
        raise ValueError(f"{name}={raw!r} must be at least {least:g}")
    return value


def _timeout(env: Mapping[str, str], signal: str) -> float:
    """The OTLP export timeout in seconds.

    The specification says milliseconds; the Python SDK reads seconds. Values up to 120
    are taken as seconds (what Python users write), larger ones as milliseconds.
    """
    for name in (f"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        if env.get(name, "").strip():
            value = _number(env, name, 0.0, 0.001)
            return value if value <= _SECONDS_UP_TO else value / 1000.0
    return 2.0


def _headers(env: Mapping[str, str], signal: str) -> dict[str, str]:
    raw = env.get(f"OTEL_EXPORTER_OTLP_{signal}_HEADERS") or env.get(
        "OTEL_EXPORTER_OTLP_HEADERS", ""
    )
    headers = {}
    for item in raw.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            headers[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return headers


@dataclass(frozen=True)
class SignalConfig:
    """Where one signal (traces or metrics) goes.

    Attributes:
        exporter: ``otlp``, ``console`` or ``none``.
        protocol: The OTLP protocol (``http/protobuf``, DFM's default, or ``grpc``).
        endpoint: The full OTLP endpoint: a URL ending in ``/v1/<signal>`` for HTTP,
            ``host:port`` or a URL for gRPC.
        endpoint_set: Whether a variable named the endpoint (else the default).
        timeout: Seconds one export may take.
        headers: Extra headers (``OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS``).
    """

    exporter: str
    protocol: str
    endpoint: str
    endpoint_set: bool
    timeout: float
    headers: dict[str, str] = field(default_factory=dict)


def _signal(env: Mapping[str, str], signal: Literal["traces", "metrics"]) -> SignalConfig:
    upper = signal.upper()
    exporter = _exporter(env, f"OTEL_{upper}_EXPORTER")
    protocol = _choice(
        env,
        (f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        _PROTOCOLS,
        "http/protobuf",
    )
    specific = env.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT", "").strip()
    general = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if protocol == "grpc":
        endpoint = specific or general or "http://localhost:4317"
    elif specific:
        endpoint = specific  # used as is, as the specification says
    else:
        endpoint = (general or "http://localhost:4318").rstrip("/") + f"/v1/{signal}"
    return SignalConfig(
        exporter=exporter,
        protocol=protocol,
        endpoint=endpoint,
        endpoint_set=bool(specific or general),
        timeout=_timeout(env, upper),
        headers=_headers(env, upper),
    )


@dataclass(frozen=True)
class BatchConfig:
    """How finished spans are batched for export (the ``OTEL_BSP_*`` variables).

    Attributes:
        schedule_delay: Seconds a finished span may wait for its batch to fill.
        max_queue_size: Spans waiting at most (more are dropped and counted).
        max_export_batch_size: Spans per export request at most.
    """

    schedule_delay: float = 5.0
    max_queue_size: int = 2048
    max_export_batch_size: int = 512

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BatchConfig:
        """Read ``OTEL_BSP_SCHEDULE_DELAY`` (ms), ``_MAX_QUEUE_SIZE``, ``_MAX_EXPORT_BATCH_SIZE``.

        Raises:
            ValueError: A value is not a number, too small, or the batch is larger than
                the queue.
        """
        delay = _number(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 0) / 1000
        queue = int(_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1))
        batch = int(_number(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1))
        if batch > queue:
            raise ValueError(
                f"OTEL_BSP_MAX_EXPORT_BATCH_SIZE={batch} is larger than "
                f"OTEL_BSP_MAX_QUEUE_SIZE={queue}; make the batch at most the queue"
            )
        return cls(delay, queue, batch)


@dataclass(frozen=True)
class TelemetryConfig:
    """DFM's telemetry settings, read from the environment once per process.

    Attributes:
        enabled: ``DFM_TELEMETRY=1`` (and ``OTEL_SDK_DISABLED`` is not ``true``).
        sdk_disabled: ``OTEL_SDK_DISABLED=true``: nothing is recorded, whatever else says.
        traces: Where spans go.
        metrics: Where metrics go.
        batch: How spans are batched for export.
        forward: Where a site's telemetry goes: ``direct`` (the site exports it),
            ``app`` (sent to the application over DFM's own channel, which exports
            it), ``auto`` (``direct`` if an OTLP endpoint variable is set or traces go
            to the console, else ``app``).
        transition_spans: A span per firing of a transition (debugging; costly).
        max_adapter_spans: Adapter calls traced per site run (later ones are measured
            in metrics only).
        shutdown_timeout: Seconds the exit of a process may wait for telemetry.
        forward_queue: Forwarded requests the application keeps while exporting
            (more are dropped and counted).
        service_name: ``service.name`` when neither ``OTEL_SERVICE_NAME`` nor
            ``OTEL_RESOURCE_ATTRIBUTES`` sets it.
    """

    enabled: bool
    sdk_disabled: bool
    traces: SignalConfig
    metrics: SignalConfig
    batch: BatchConfig = field(default_factory=BatchConfig)
    forward: str = "auto"
    transition_spans: bool = False
    max_adapter_spans: int = 1000
    shutdown_timeout: float = 1.0
    forward_queue: int = 256
    service_name: str = "dfm"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelemetryConfig:
        """Read the settings.

        Raises:
            ValueError: A variable has a value DFM does not support (the message names
                it and the accepted values).
        """
        env = os.environ if env is None else env
        return cls(
            enabled=telemetry_requested(env),
            sdk_disabled=env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true",
            traces=_signal(env, "traces"),
            metrics=_signal(env, "metrics"),
            batch=BatchConfig.from_env(env),
            forward=_choice(env, ("DFM_TELEMETRY_FORWARD",), _FORWARD, "auto"),
            transition_spans=_flag(env, "DFM_TELEMETRY_TRANSITION_SPANS"),
            max_adapter_spans=int(_number(env, "DFM_TELEMETRY_MAX_ADAPTER_SPANS", 1000, 0)),
            shutdown_timeout=_number(env, "DFM_TELEMETRY_SHUTDOWN_TIMEOUT", 1.0, 0.0),
            forward_queue=int(_number(env, "DFM_TELEMETRY_FORWARD_QUEUE", 256, 1)),
            service_name="dfm",
        )

    def site_forwards(self) -> bool:
        """Whether a site process sends its telemetry to the application."""
        if self.forward == "auto":
            direct = self.traces.endpoint_set or self.traces.exporter == "console"
            return not direct
        return self.forward == "app"
