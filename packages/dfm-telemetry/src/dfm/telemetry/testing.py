"""Test utilities: a real OTLP receiver (HTTP/protobuf and gRPC) on 127.0.0.1.

Example::

    from dfm.telemetry.testing import OtlpReceiver

    with OtlpReceiver(grpc=True) as receiver:
        ...  # run with OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint
        spans = receiver.wait_for_spans(lambda s: len(s) >= 3, timeout=10)
"""

from ._receiver import OtlpReceiver, ReceivedPoint, ReceivedSpan

__all__ = ["OtlpReceiver", "ReceivedPoint", "ReceivedSpan"]
