"""Which providers DFM uses, in fresh processes (the global providers can be set once)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from dfm.telemetry.testing import OtlpReceiver


def run(*parts: str, **env: str) -> str:
    code = "".join(textwrap.dedent(part) for part in parts)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DFM_TELEMETRY"))}
    full.update(env)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


SPAN = """
    from dfm.runtime import telemetry
    with telemetry.STATE.tracer.start_as_current_span("probe"):
        pass
"""


def test_without_an_application_provider_dfm_uses_a_private_one() -> None:
    with OtlpReceiver() as receiver:
        out = run(
            """
            from opentelemetry import trace
            import dfm.telemetry
            assert dfm.telemetry.enable()
            """,
            SPAN,
            """
            dfm.telemetry.shutdown(5)
            print(type(trace.get_tracer_provider()).__name__)
            """,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
            OTEL_SERVICE_NAME="myapp",
        )
        assert out.strip() == "ProxyTracerProvider"  # the global provider was not replaced
        (span,) = receiver.wait_for_spans(lambda s: len(s) == 1, 10)
        assert span.name == "probe" and span.resource["service.name"] == "myapp"
        assert span.scope == "dfm"


def test_the_applications_own_provider_is_used() -> None:
    out = run(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        import dfm.telemetry
        assert dfm.telemetry.enable()
        """,
        SPAN,
        """
        print([s.name for s in exporter.get_finished_spans()])
        """,
    )
    assert out.strip() == "['probe']"


def test_a_site_process_installs_its_providers_globally() -> None:
    with OtlpReceiver() as receiver:
        out = run(
            """
            from opentelemetry import trace
            from dfm.runtime import start_telemetry, shutdown_telemetry
            assert start_telemetry("site", site="north")
            with trace.get_tracer("user").start_as_current_span("user span"):
                pass
            shutdown_telemetry(5)
            print(type(trace.get_tracer_provider()).__name__)
            """,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
        )
        assert out.strip() == "TracerProvider"
        (span,) = receiver.wait_for_spans(lambda s: len(s) == 1, 10)
        assert span.resource["dfm.site"] == "north" and span.resource["service.name"] == "dfm"


def test_sdk_disabled_keeps_everything_off() -> None:
    out = run(
        """
        import dfm.telemetry
        print(dfm.telemetry.enable())
        """,
        OTEL_SDK_DISABLED="true",
    )
    assert out.strip() == "False"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_both_protocols_export_spans_and_metrics(protocol: str) -> None:
    with OtlpReceiver(grpc=True) as receiver:
        endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
        run(
            """
            import dfm.telemetry
            from dfm.runtime import telemetry
            assert dfm.telemetry.enable()
            """,
            SPAN,
            """
            telemetry.job_ended("FINISHED", 3, 1)
            dfm.telemetry.shutdown(5)
            """,
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        )
        receiver.wait_for_spans(lambda s: len(s) == 1, 10)
        assert receiver.wait_for(lambda r: bool(r.latest("dfm.jobs")), 10)
        jobs = receiver.latest("dfm.jobs")
        assert [(dict(k), p.value) for k, p in jobs.items()] == [
            ({"dfm.job.status": "FINISHED"}, 1)
        ]
        frames = {dict(k)["dfm.outcome"]: p.value for k, p in receiver.latest("dfm.frames").items()}
        assert frames == {"ok": 3, "error": 1}
        transports = {t for t, _, _ in receiver.raw_requests}
        assert transports == {"grpc" if protocol == "grpc" else "http"}
