"""Binary values between sites and to the application, in every local mode.

In thread mode packages are handed over as objects; with ``wire_roundtrip`` they go
through the envelope; with ``processes=True`` small envelopes cross the socket and big
ones (1 MiB and more) shared memory whose descriptor is passed along.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from dfm.api import Frame, Pipeline, PlaceParam, Yield
from dfm.session import JobStatus, Session

MODES = {
    "threads": {},
    "wire_roundtrip": {"wire_roundtrip": True},
    "processes": {"processes": True},
}
MIB = 1 << 20


@pytest.fixture(scope="module", params=list(MODES))
def session(federation: str, request: pytest.FixtureRequest) -> Iterator[Session]:
    with Session(federation, "home", job_timeout=60, **MODES[request.param]) as s:
        yield s


def expected_blob(n: int) -> bytes:
    return bytes(range(256)) * (n // 256) + bytes(n % 256)


@pytest.mark.parametrize("n", [0, 1000, 3 * MIB + 5])
@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview"])
def test_buffers_cross_sites_with_their_type(
    session: Session, ops: ModuleType, new_recorder: Any, kind: str, n: int
) -> None:
    with Pipeline() as p:
        blob = ops.Blob(n=PlaceParam(place="n"), kind=kind, site="s1")
        Yield(value=ops.Describe(x=blob, site="s2"), place="described")
        Yield(value=blob, place="blob")
    recorder = new_recorder()
    job = session.execute(session.prepare(p), {"n": n}, default_callback=recorder)
    assert job.wait_until_finished(60) and job.get_status() is JobStatus.FINISHED, job.errors
    data = expected_blob(n)
    [(_, described)] = recorder.at("described")
    assert described == [kind, n, data[:4].hex(), data[-4:].hex()]
    [(_, blob_value)] = recorder.at("blob")
    assert type(blob_value) is {"bytes": bytes, "bytearray": bytearray}.get(kind, memoryview)
    assert bytes(blob_value) == data


def test_nested_buffers_cross_sites(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        blob = ops.Blob(n=2 * MIB, kind="nested", site="s1")
        Yield(value=ops.Describe(x=blob, site="s2"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(60) and job.get_status() is JobStatus.FINISHED, job.errors
    assert recorder.at("yield") == [(Frame([0]), {"parts": ["list", 2]})]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_shared_memory_is_released(session: Session, ops: ModuleType, new_recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.Blob(n=PlaceParam(place="n"), site="s1"))
    prepared = session.prepare(p)
    warm = session.execute(prepared, {"n": 2 * MIB}, default_callback=new_recorder())
    assert warm.wait_until_finished(60)
    before = _open_fds()
    recorder = new_recorder()
    job = session.execute(prepared, [{"n": 2 * MIB}] * 5, default_callback=recorder)
    assert job.wait_until_finished(60) and job.get_status() is JobStatus.FINISHED
    assert len(recorder.at("yield")) == 5
    del recorder
    assert _open_fds() <= before  # every shared envelope's descriptor was closed
