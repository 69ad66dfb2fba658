"""TelemetryConfig from OTEL_* and DFM_TELEMETRY_* variables."""

from __future__ import annotations

import pytest

from dfm.telemetry import TelemetryConfig


def test_defaults() -> None:
    c = TelemetryConfig.from_env({})
    assert not c.enabled and not c.sdk_disabled
    assert (c.traces.exporter, c.traces.protocol) == ("otlp", "http/protobuf")
    assert c.traces.endpoint == "http://localhost:4318/v1/traces"
    assert c.metrics.endpoint == "http://localhost:4318/v1/metrics"
    assert not c.traces.endpoint_set and c.traces.timeout == 2.0
    assert (c.forward, c.transition_spans, c.max_adapter_spans) == ("auto", False, 1000)
    assert c.site_forwards()  # no endpoint variable: a site sends to the application


def test_endpoints_follow_the_specification() -> None:
    c = TelemetryConfig.from_env(
        {
            "DFM_TELEMETRY": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:9/custom",
        }
    )
    assert c.enabled
    assert c.traces.endpoint == "http://collector:4318/v1/traces"
    assert c.metrics.endpoint == "http://m:9/custom"  # a signal's own variable is used as is
    assert c.traces.endpoint_set and not c.site_forwards()


def test_grpc_protocol_and_per_signal_override() -> None:
    c = TelemetryConfig.from_env(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        }
    )
    assert c.traces.protocol == "grpc" and c.traces.endpoint == "http://127.0.0.1:4317"
    assert c.metrics.protocol == "http/protobuf"
    assert c.metrics.endpoint == "http://127.0.0.1:4317/v1/metrics"


@pytest.mark.parametrize(("raw", "seconds"), [("2", 2.0), ("0.5", 0.5), ("10000", 10.0)])
def test_timeout_in_seconds_or_milliseconds(raw: str, seconds: float) -> None:
    assert TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_TIMEOUT": raw}).traces.timeout == seconds


def test_headers_and_dfm_options() -> None:
    c = TelemetryConfig.from_env(
        {
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s%3Dcret, x=1",
            "DFM_TELEMETRY_FORWARD": "app",
            "DFM_TELEMETRY_TRANSITION_SPANS": "1",
            "DFM_TELEMETRY_MAX_ADAPTER_SPANS": "10",
            "DFM_TELEMETRY_SHUTDOWN_TIMEOUT": "0.5",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1",
        }
    )
    assert c.traces.headers == {"api-key": "s=cret", "x": "1"}
    assert c.site_forwards()  # forced, although an endpoint is set
    assert (c.transition_spans, c.max_adapter_spans, c.shutdown_timeout) == (True, 10, 0.5)


def test_console_traces_are_written_by_each_site() -> None:
    c = TelemetryConfig.from_env({"OTEL_TRACES_EXPORTER": "console"})
    assert c.traces.exporter == "console" and not c.site_forwards()


def test_sdk_disabled_wins() -> None:
    c = TelemetryConfig.from_env({"DFM_TELEMETRY": "1", "OTEL_SDK_DISABLED": "true"})
    assert c.sdk_disabled and not c.enabled


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER='zipkin'.*otlp, console, none"),
        ({"OTEL_METRICS_EXPORTER": "otlp,console"}, "OTEL_METRICS_EXPORTER"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "http/protobuf, grpc"),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "not a number"),
        ({"DFM_TELEMETRY_FORWARD": "somewhere"}, "auto, app, direct"),
        ({"DFM_TELEMETRY_MAX_ADAPTER_SPANS": "-1"}, "at least 0"),
        ({"DFM_TELEMETRY_TRANSITION_SPANS": "perhaps"}, "use 1 or 0"),
    ],
)
def test_bad_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TelemetryConfig.from_env(env)
