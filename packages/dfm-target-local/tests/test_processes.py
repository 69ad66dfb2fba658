"""The local target with processes=True: every site in its own Python process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dfm.api import (
    STATUS_PLACE_NAME,
    ErrorInfo,
    ErrorToken,
    Frame,
    Pipeline,
    PlaceParam,
    StopToken,
    Yield,
)
from dfm.session import JobStatus, Session

STOP = Frame.stop_frame()


@pytest.fixture(scope="module")
def session(federation: str) -> Iterator[Session]:
    """One process-mode session for the module: site processes take a while to boot."""
    with Session(federation, "home", processes=True, job_timeout=30) as s:
        yield s


def _pids(session: Session) -> dict[str, int]:
    from dfm.targets.local._process import child_pids

    return child_pids(session.target._hosts)  # type: ignore[attr-defined]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_cross_site_job(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        e = ops.Echo(x=PlaceParam(place="a"), site="s1")
        Yield(value=ops.Concat(a=e, b="!", site="s2"))
    job = session.execute(
        session.prepare(p), [{"a": "x"}, {"a": (1, 2)}], default_callback=recorder
    )
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED
    assert sorted(recorder.at("yield"), key=str) == [(Frame([0]), "x!"), (Frame([1]), "(1, 2)!")]
    assert recorder.at(STATUS_PLACE_NAME)[-1] == (STOP, StopToken())
    pids = _pids(session)
    assert set(pids) >= {"s1", "s2"} and os.getpid() not in pids.values()


def test_adapter_error(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.Fail(msg="boom", site="s1"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FAILED
    ((_, error),) = recorder.at("yield")
    assert isinstance(error, ErrorToken) and "boom" in str(error)


def test_cancel(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.Sleep(seconds=30, site="s1"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    time.sleep(0.2)
    job.cancel()
    assert job.get_status() is JobStatus.ABORTED and job.wait_until_finished(1)
    assert recorder.tokens == []


def test_timeout_of_a_stuck_sync_adapter(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.SyncSleep(seconds=30, site="s2"))
    job = session.execute(
        session.prepare(p), default_callback=recorder, options={"job_timeout": 0.5}
    )
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FAILED
    reason = "timed out after 0.5s (site(s) still running: s2)"
    assert job.errors == [reason]
    error = ErrorToken(errors=[ErrorInfo(type="JobTimeout", message=reason, site="s2")])
    assert recorder.at(STATUS_PLACE_NAME) == [(Frame([0]), error), (STOP, error)]


def test_crashing_site_fails_its_jobs_only(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as other:  # a job on another site process, running meanwhile
        Yield(value=ops.SyncSleep(seconds=1.0, site="s1"))
    bystander = session.execute(session.prepare(other))
    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="s1"), place="echo")
        Yield(value=ops.Crash(site="s2"))
    job = session.execute(session.prepare(p), None, autostop=False, default_callback=recorder)
    job.send_input_params([{"a": 1}, {"a": 2}])
    assert job.wait_until_finished(10) and job.get_status() is JobStatus.FAILED
    reason = job.errors[0]
    assert isinstance(reason, str)
    assert "site 's2' stopped: its process exited with code 3" in reason
    # Every submitted frame and the job still end with a status token carrying the reason.
    error = ErrorToken(errors=[ErrorInfo(type="SiteFailure", message=reason, site="s2")])
    statuses = recorder.at(STATUS_PLACE_NAME)
    assert sorted(statuses[:-1], key=str) == [(Frame([0]), error), (Frame([1]), error)]
    assert statuses[-1] == (STOP, error)
    with pytest.raises(RuntimeError, match="FAILED"):
        job.send_input_params({"a": 3})
    assert bystander.wait_until_finished(30) and bystander.get_status() is JobStatus.FINISHED
    with Pipeline() as p:
        Yield(value=ops.Echo(x="again", site="s2"))
    again = session.execute(session.prepare(p))
    assert again.wait_until_finished(30) and again.get_status() is JobStatus.FINISHED


def test_ctrl_c_reaching_a_site_process_does_not_end_it(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    import signal

    with Pipeline() as p:
        Yield(value=ops.Echo(x="before", site="s1"))
    assert session.execute(session.prepare(p)).wait_until_finished(30)
    pid = _pids(session)["s1"]
    os.kill(pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches the whole process group
    time.sleep(0.2)
    assert _alive(pid)
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED
    assert _pids(session)["s1"] == pid


def test_a_site_dying_while_another_starts_fails_the_job_with_its_reason(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    # s2 is busy (its loop blocked) while s1 crashes on the job's first frame: s2 hears of
    # the job only after it was cancelled. execute() used to raise "job ... was cancelled
    # before site 's2' started it" and hide why; now the job is FAILED with the cause.
    with Pipeline() as warm:  # both site processes up, the Crash net's module generated
        Yield(value=ops.Echo(x="warm", site="s1"))
        Yield(value=ops.Echo(x="warm", site="s2"), place="s2")
    assert session.execute(session.prepare(warm)).wait_until_finished(30)
    with Pipeline() as busy:
        Yield(value=ops.Block(seconds=3, site="s2"))
    blocker = session.execute(session.prepare(busy))
    time.sleep(0.3)
    with Pipeline() as p:
        Yield(value=ops.Crash(site="s1"))
        Yield(value=ops.Echo(x="late", site="s2"), place="late")
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FAILED
    assert "site 's1' stopped: its process exited with code 3" in str(job.errors[0])
    assert blocker.wait_until_finished(30) and blocker.get_status() is JobStatus.FINISHED


def test_version_mismatch_raises(session: Session, ops: ModuleType) -> None:
    with Pipeline(api_version="7.0") as p:
        Yield(value=ops.Echo(x=1, site="s1"))
    with pytest.raises(ValueError, match="API major version mismatch"):
        session.execute(session.prepare(p))


SCRIPT = """
print("MAIN MODULE RUNS", flush=True)
import os, sys
from dfm.api import Pipeline, Yield
from dfm.session import Session
from dfm.targets.local._process import child_pids
from {fed}.fed.api.ops import Echo
session = Session("{fed}", "home", processes=True)
with Pipeline() as p:
    Yield(value=Echo(x=Echo(x="hi", site="s1"), site="s2"))
job = session.execute(session.prepare(p), default_callback=lambda *a: print(a[3], a[4], flush=True))
assert job.wait_until_finished(60), job.get_status()
print("STATUS", job.get_status().name, flush=True)
print("PIDS", *child_pids(session.target._hosts).values(), flush=True)
if "--die" in sys.argv:
    os._exit(0)  # no close(), no atexit: the site processes must notice on their own
session.close()
"""


def _run_script(tmp_path: Path, root: Path, federation: str, *args: str) -> list[str]:
    script = tmp_path / "app_without_main_guard.py"
    script.write_text(textwrap.dedent(SCRIPT.format(fed=federation)))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_script_without_main_guard(tmp_path: Path, federation_root: Path, federation: str) -> None:
    lines = _run_script(tmp_path, federation_root, federation)
    assert lines.count("MAIN MODULE RUNS") == 1  # the site processes did not re-run it
    assert "yield hi" in lines and "STATUS FINISHED" in lines


def test_site_processes_exit_with_the_parent(
    tmp_path: Path, federation_root: Path, federation: str
) -> None:
    lines = _run_script(tmp_path, federation_root, federation, "--die")
    pids = [int(p) for p in next(line for line in lines if line.startswith("PIDS")).split()[1:]]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def test_memory_cap_ends_a_leaking_site_process_with_a_clear_reason(
    federation: str, ops: ModuleType
) -> None:
    with Session(federation, "home", processes=True, memory_limit_mb=400, job_timeout=60) as s:
        with Pipeline() as other:
            Yield(value=ops.SyncSleep(seconds=1.0, site="s2"))
        bystander = s.execute(s.prepare(other))
        with Pipeline() as p:
            Yield(value=ops.Hog(mb=4000, site="s1"))
        job = s.execute(s.prepare(p))
        assert job.wait_until_finished(30) and job.get_status() is JobStatus.FAILED
        reason = str(job.errors[0])
        assert "site 's1' stopped: its memory use" in reason
        assert "memory cap of 400 MB (local target option memory_limit_mb)" in reason
        assert bystander.wait_until_finished(30)
        assert bystander.get_status() is JobStatus.FINISHED  # another process: unaffected
        with Pipeline() as again:
            Yield(value=ops.Echo(x="fresh process", site="s1"))
        fresh = s.execute(s.prepare(again))
        assert fresh.wait_until_finished(30) and fresh.get_status() is JobStatus.FINISHED


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_limit_mb": 100}, "needs processes=True"),
        ({"memory_limit_mb": 0, "processes": True}, "at least 1"),
        ({"memory_limit_mb": "1G", "processes": True}, "must be of type int"),
    ],
)
def test_memory_cap_option_is_checked(federation: str, options: dict[str, Any], message: str):
    with pytest.raises((TypeError, ValueError), match=message):
        Session(federation, "home", **options).connect()


def test_site_processes_get_huge_pages_for_big_values() -> None:
    from dfm.targets.local._process import site_process_environment as child_environment

    assert child_environment({})["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"
    mine = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    both = "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    assert child_environment(mine)["GLIBC_TUNABLES"] == both
    kept = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}
    assert child_environment(kept) == kept  # a choice of the user's stays


def test_a_channel_closed_from_two_threads_at_once_closes_once() -> None:
    # The reader thread and SiteProcess.close() both close a site's channel; two
    # concurrent Connection.close() calls closed one descriptor twice (EBADF).
    import socket
    import threading
    import time

    from dfm.targets.local._channel import Channel

    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    conn = channel._conn
    slow = conn._close  # type: ignore[attr-defined]

    def close_slowly() -> None:
        time.sleep(0.05)  # both closers are inside close() now
        slow()

    conn._close = close_slowly  # type: ignore[attr-defined]
    errors: list[BaseException] = []

    def close() -> None:
        try:
            channel.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=close) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    theirs.close()
    assert errors == []
    assert conn.closed and ours.fileno() == -1
