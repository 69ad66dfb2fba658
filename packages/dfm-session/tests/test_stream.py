from __future__ import annotations

from typing import Any

from dfm.api import (
    STATUS_PLACE_NAME,
    TRUSTED,
    ErrorInfo,
    ErrorToken,
    Frame,
    StopToken,
    encode_value,
)
from dfm.session import Delivery, DirectDispatcher, JobStatus, JobStream

STOP = Frame.stop_frame()


def status(frame: Frame, data: Any) -> Delivery:
    return Delivery("s", None, frame, STATUS_PLACE_NAME, data)


class Package:
    """Duck-typed like dfm.runtime.TokenPackage."""

    def __init__(self, value: Any) -> None:
        self.source_site, self.source_node, self.target_place = "s", 3, "yield"
        self.frame = Frame([0])
        self.payload = encode_value(value)

    def unwrap(self, policy: Any) -> Any:
        from dfm.api import decode_value

        assert policy is TRUSTED
        return decode_value(self.payload, policy)


def test_finished_after_final_stop() -> None:
    got: list[Any] = []
    stream = JobStream("j1")
    stream.attach(DirectDispatcher().create_runner(lambda *a: got.append(a[4]), None))
    stream.set_running()
    assert stream.status is JobStatus.RUNNING
    stream.put(Package((1, 2)))
    stream.put(status(Frame([0]), StopToken()))
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.wait(5)
    assert stream.status is JobStatus.FINISHED
    assert got == [(1, 2), StopToken(), StopToken()]
    stream.put("ignored after end")


def test_error_status_fails_with_the_tokens() -> None:
    stream = JobStream("j2")
    error = ErrorToken(errors=[ErrorInfo(type="E", message="m")])
    stream.put(status(Frame([0]), error))
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.wait(5)
    assert stream.status is JobStatus.FAILED and stream.errors == [error]


def test_missing_final_stop_or_failure_reason_fails() -> None:
    stream = JobStream("j3")
    stream.end()
    assert stream.wait(5) and stream.status is JobStatus.FAILED
    assert "final status token" in str(stream.errors[0])
    stream = JobStream("j4")
    stream.put(status(STOP, StopToken()))
    stream.end(failure="site a crashed")
    assert stream.wait(5) and stream.errors == ["site a crashed"]


def test_terminate_is_immediate_and_first_wins() -> None:
    stream = JobStream("j5")
    assert stream.terminate(JobStatus.FAILED, "timed out after 1s")
    assert not stream.terminate(JobStatus.ABORTED)
    assert stream.status is JobStatus.FAILED and stream.errors == ["timed out after 1s"]
    assert stream.wait(1)
    done: list[JobStream] = []
    stream.add_final_callback(done.append)
    assert done == [stream]


def test_bounded_buffer_while_detached() -> None:
    stream = JobStream("j6", buffer_limit=3)
    for i in range(5):
        stream.put(Delivery("s", None, Frame([i]), "yield", i))
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.wait(5)
    got: list[Any] = []
    runner = DirectDispatcher().create_runner(lambda *a: got.append(a[4]), None)
    stream.attach(runner)
    for _ in range(100):
        if got:
            break
        import time

        time.sleep(0.01)
    assert got == [3, 4, StopToken()]
