from __future__ import annotations

import threading
import time
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
from dfm.session import (
    CallbackRunner,
    Delivery,
    DirectDispatcher,
    FailureStatus,
    JobStatus,
    JobStream,
)

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


SITE_FAILURE = FailureStatus("SiteFailure", "s2", "home", 3)


def test_fail_delivers_queued_tokens_then_error_statuses() -> None:
    got: list[Delivery] = []
    stream = JobStream("j7")
    stream.attach(DirectDispatcher().create_runner(lambda *a: got.append(Delivery(*a)), None))
    stream.set_running()
    stream.put(Delivery("s1", 1, Frame([0]), "yield", "a"))
    stream.put(status(Frame([0]), StopToken()))
    stream.put(Delivery("s1", 1, Frame([2]), "yield", "c"))  # frame [2]: no status yet
    assert stream.fail("site 's2' stopped: it crashed", SITE_FAILURE)
    assert stream.status is JobStatus.FAILED  # at once
    assert not stream.fail("again", SITE_FAILURE)
    stream.put(status(Frame([1]), StopToken()))  # after the failure: ignored
    assert stream.wait(5)
    assert stream.status is JobStatus.FAILED
    assert stream.errors == ["site 's2' stopped: it crashed"]
    assert [(t.frame, t.place) for t in got] == [
        (Frame([0]), "yield"),
        (Frame([0]), STATUS_PLACE_NAME),
        (Frame([2]), "yield"),
        (Frame([1]), STATUS_PLACE_NAME),
        (Frame([2]), STATUS_PLACE_NAME),
        (STOP, STATUS_PLACE_NAME),
    ]
    for token in got[3:]:
        assert token.from_site == "home" and token.node_id is None
        assert token.data == ErrorToken(
            errors=[
                ErrorInfo(type="SiteFailure", message="site 's2' stopped: it crashed", site="s2")
            ]
        )


def test_end_with_failure_status_and_a_final_stop_already_there() -> None:
    got: list[Delivery] = []
    stream = JobStream("j8")
    stream.attach(DirectDispatcher().create_runner(lambda *a: got.append(Delivery(*a)), None))
    for frame in (Frame([0]), Frame([1]), Frame([2]), STOP):
        stream.put(status(frame, StopToken()))
    stream.end("internal failure on site 'a'", FailureStatus("SiteFailure", "a", "home", 3))
    assert stream.wait(5) and stream.status is JobStatus.FAILED
    assert stream.errors == ["internal failure on site 'a'"]
    assert len(got) == 4 and all(t.data == StopToken() for t in got)  # nothing to add


def test_cancel_while_failing_keeps_failed_and_stops_callbacks() -> None:
    got: list[Any] = []
    release = threading.Event()

    def slow(*args: Any) -> None:
        got.append(args[4])
        release.wait(5)

    stream = JobStream("j9")
    stream.attach(DirectDispatcher().create_runner(slow, None))
    stream.put(Delivery("s1", 1, Frame([0]), "yield", "first"))
    while not got:
        time.sleep(0.001)
    assert stream.fail("timed out after 1s", FailureStatus("JobTimeout", "s1", "home", 1))
    assert not stream.terminate(JobStatus.ABORTED)  # the job stays FAILED
    release.set()
    assert stream.wait(5)
    assert stream.status is JobStatus.FAILED and stream.errors == ["timed out after 1s"]
    assert got == ["first"]  # no callback started after the cancel


class ClosingRunner(CallbackRunner):
    def __init__(self) -> None:
        super().__init__(lambda *a: None, None)
        self.closed: list[str] = []

    def dispatch(self, tokens: Any) -> None:
        assert not self.closed
        self.call_sync(tokens)

    def close(self) -> None:
        self.closed.append(threading.current_thread().name)


def test_runners_are_closed_when_the_job_ends_or_they_are_detached() -> None:
    stream = JobStream("j10")
    first, second, late = ClosingRunner(), ClosingRunner(), ClosingRunner()
    assert stream.attach(first).wait(5)
    assert stream.attach(second).wait(5)  # replaces the first
    assert len(first.closed) == 1 and second.closed == []
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.wait(5) and second.closed != []
    assert second.closed[0].startswith("dfm-delivery")
    assert stream.attach(late).wait(5)  # after the end: closed once it got the buffer
    assert len(late.closed) == 1 and len(second.closed) == 1
    other, detached = JobStream("j11"), ClosingRunner()
    other.attach(detached)
    other.detach(detached)
    other.terminate(JobStatus.ABORTED)
    assert other.wait(5) and len(detached.closed) == 1


def test_states_follow_the_transitions() -> None:
    from dfm.session import STREAM_TRANSITIONS, StreamState

    stream = JobStream("s1")
    assert stream.state is StreamState.OPEN and not stream.ended
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.state in (StreamState.ENDING, StreamState.DRAINED) and stream.ended
    assert stream.wait(5) and stream.state is StreamState.DRAINED
    assert not stream.fail("late") and not stream.terminate(JobStatus.ABORTED)
    assert stream.state is StreamState.DRAINED and stream.status is JobStatus.FINISHED

    cancelled = JobStream("s2")
    assert cancelled.terminate(JobStatus.ABORTED)
    assert cancelled.state is StreamState.TERMINATED and cancelled.wait(0)
    assert cancelled.status is JobStatus.ABORTED

    failing = JobStream("s3")
    assert failing.fail("site a died")
    assert failing.state in (StreamState.FAILING, StreamState.DRAINED)
    assert failing.wait(5) and failing.state is StreamState.DRAINED
    assert failing.status is JobStatus.FAILED and failing.errors == ["site a died"]

    # Every state is covered and only the final ones have no way out.
    assert set(STREAM_TRANSITIONS) == set(StreamState)
    assert {s for s, out in STREAM_TRANSITIONS.items() if not out} == {
        StreamState.DRAINED,
        StreamState.TERMINATED,
    }


def test_a_move_outside_the_transitions_is_refused() -> None:
    import pytest

    from dfm.session import StreamState

    stream = JobStream("s4")
    stream.terminate(JobStatus.ABORTED)
    with pytest.raises(RuntimeError, match="TERMINATED -> ENDING is not a transition"):
        stream._move(StreamState.ENDING)


def test_forwarded_telemetry_never_reaches_callbacks() -> None:
    from dfm.api import TELEMETRY_PLACE_NAME

    got: list[Any] = []
    stream = JobStream("jt")
    stream.attach(DirectDispatcher().create_runner(lambda *a: got.append(a[3]), None))
    stream.put(Delivery("far", None, STOP, TELEMETRY_PLACE_NAME, {"traces": b"\x0a\x00"}))
    stream.put(Delivery("far", None, STOP, TELEMETRY_PLACE_NAME, "not even telemetry"))
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.wait(5)
    assert stream.status is JobStatus.FINISHED
    assert got == [STATUS_PLACE_NAME]


def test_frame_counts() -> None:
    stream = JobStream("jf")
    error = ErrorToken(errors=[ErrorInfo(type="E", message="m")])
    stream.put(status(Frame([0]), StopToken()))
    stream.put(status(Frame([1]), error))
    stream.put(status(Frame([1, 0]), error))  # a second status of set 1 (a loop)
    stream.put(status(Frame([2]), StopToken()))
    stream.put(status(STOP, StopToken()))
    stream.end()
    assert stream.wait(5)
    assert stream.frame_counts == (2, 1)
