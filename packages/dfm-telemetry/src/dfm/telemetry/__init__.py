"""DFM telemetry on the OpenTelemetry SDK: one trace per job across every site.

Switch it on with ``DFM_TELEMETRY=1`` (or ``Session(..., telemetry=True)``, or
:func:`enable`); everything else comes from the standard ``OTEL_*`` variables::

    DFM_TELEMETRY=1 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python app.py

In an application DFM uses the tracer and meter providers the application installed,
else private ones; it never replaces the global providers. Site processes DFM starts
configure the SDK themselves; a site without a collector forwards its telemetry to the
application (``DFM_TELEMETRY_FORWARD``). See ``docs/observability.md``.
"""

from ._config import SignalConfig, TelemetryConfig
from ._setup import Backend, enable, setup, shutdown

__all__ = ["Backend", "SignalConfig", "TelemetryConfig", "enable", "setup", "shutdown"]
