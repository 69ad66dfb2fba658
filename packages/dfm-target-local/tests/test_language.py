"""The whole pipeline language on the local target, in-process and with site processes.

Every test compares the exact multiset of (place, frame, value) the callbacks received.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from dfm.api import (
    STATUS_PLACE_NAME,
    And,
    BestOf,
    Equal,
    ErrorToken,
    ForEach,
    Frame,
    GreaterThan,
    If,
    LessThan,
    Not,
    Or,
    Pipeline,
    PlaceParam,
    StopToken,
    TryFromCache,
    Yield,
)
from dfm.session import JobStatus, Session

STOP = "stop"
MODES = {"threads": {}, "wire": {"wire_roundtrip": True}, "processes": {"processes": True}}


@pytest.fixture(scope="module", params=list(MODES))
def session(request: pytest.FixtureRequest, federation: str) -> Iterator[Session]:
    """A session per mode for the whole module (site processes take a while to start)."""
    with Session(federation, "home", job_timeout=30, **MODES[request.param]) as s:
        yield s


def f(*levels: int) -> str:
    return str(Frame(list(levels)))


def run(
    session: Session, pipeline: Pipeline, params: Any, new_recorder: Any
) -> tuple[Counter[tuple[str, str, str]], Any, Any]:
    """Execute through the pipeline's JSON round trip; the received multiset and the job."""
    back = Pipeline.model_validate_json(pipeline.model_dump_json())
    assert back == pipeline
    recorder = new_recorder()
    job = session.execute(session.prepare(back), params, default_callback=recorder)
    assert job.wait_until_finished(30), job.get_status()
    got = Counter((place, str(frame), repr(data)) for _, _, frame, place, data in recorder.tokens)
    last = recorder.tokens[-1]
    assert (last[2], last[3], last[4]) == (Frame.stop_frame(), STATUS_PLACE_NAME, StopToken())
    return got, job, recorder


def y(place: str, *items: tuple[str, Any]) -> Counter[tuple[str, str, str]]:
    return Counter((place, frame, repr(value)) for frame, value in items)


def ok(*frames: str) -> Counter[tuple[str, str, str]]:
    return Counter((STATUS_PLACE_NAME, fr, repr(StopToken())) for fr in (*frames, STOP))


def test_for_each_across_sites(session: Session, ops: ModuleType, new_recorder: Any) -> None:
    with Pipeline() as p:
        numbers = ops.Echo(x=PlaceParam(place="n"), site="s1")
        with ForEach(seq=numbers) as x:
            Yield(value=ops.Square(x=x, site="s2"), place="sq")
    got, job, _ = run(session, p, [{"n": [1, 2, 3]}, {"n": []}], new_recorder)
    assert got == y("sq", (f(0, 0), 1), (f(0, 1), 4), (f(0, 2), 9)) + ok(f(0), f(1))
    assert job.get_status() is JobStatus.FINISHED


def test_nested_for_each(session: Session, ops: ModuleType, new_recorder: Any) -> None:
    with Pipeline() as p:
        rows = ops.Echo(x=PlaceParam(place="rows"), site="s1")
        with ForEach(seq=rows) as row:
            with ForEach(seq=row) as cell:
                Yield(value=ops.Concat(a=row, b=cell, site="s2"))
    got, _, _ = run(session, p, {"rows": ["ab", "c"]}, new_recorder)
    assert got == y("yield", (f(0, 0, 0), "aba"), (f(0, 0, 1), "abb"), (f(0, 1, 0), "cc")) + ok(
        f(0)
    )


@pytest.mark.parametrize("op", ["Count", "ACount"])
def test_streaming_generators(
    session: Session, ops: ModuleType, new_recorder: Any, op: str
) -> None:
    with Pipeline() as p:
        g = getattr(ops, op)(n=PlaceParam(place="n"), site="s1")
        with ForEach(seq=g) as x:
            Yield(value=ops.Square(x=x, site="s2"))
        Yield(value=g, place="all")
    got, _, _ = run(session, p, {"n": 3}, new_recorder)
    assert got == y("yield", (f(0, 0), 0), (f(0, 1), 1), (f(0, 2), 4)) + y(
        "all", (f(0), [0, 1, 2])
    ) + ok(f(0))


def test_if_with_and_or_not_inside_for_each(
    session: Session, ops: ModuleType, new_recorder: Any
) -> None:
    with Pipeline() as p:
        items = ops.Echo(x=PlaceParam(place="items"), site="s1")
        with ForEach(seq=items) as item:
            v = ops.Echo(x=item, site="s2")
            big = GreaterThan(left=v["n"], right=PlaceParam(place="limit"))
            keep = Or(exp=[big, Equal(left=v["tag"], right="always")])
            with If(cond=And(exp=[keep, Not(exp=LessThan(left=v["n"], right=0))])):
                Yield(value=ops.Concat(a=v["tag"], b="!", site="s1"), place="kept")
    items = [
        {"n": 5, "tag": "a"},  # big
        {"n": 1, "tag": "b"},  # neither
        {"n": 1, "tag": "always"},  # the Or's second branch
        {"n": -3, "tag": "always"},  # negative
    ]
    got, job, _ = run(session, p, {"items": items, "limit": 2}, new_recorder)
    assert got == y("kept", (f(0, 0), "a!"), (f(0, 2), "always!")) + ok(f(0))
    assert job.get_status() is JobStatus.FINISHED


def test_false_if_completes_the_frame(session: Session, ops: ModuleType, new_recorder: Any) -> None:
    with Pipeline() as p:
        e = ops.Echo(x=PlaceParam(place="x"), site="s1")
        with If(cond=e):
            Yield(value=ops.Echo(x=e, site="s2"))
    got, job, _ = run(session, p, [{"x": 0}, {"x": "yes"}], new_recorder)
    assert got == y("yield", (f(1), "yes")) + ok(f(0), f(1))
    assert job.get_status() is JobStatus.FINISHED


def test_cache_hit_and_miss_across_jobs_and_sessions(
    session: Session, ops: ModuleType, new_recorder: Any, federation: str
) -> None:
    key = f"k-{id(session)}"  # fresh per mode
    with Pipeline() as p:
        with TryFromCache(key=PlaceParam(place="k")) as cached:
            cached.cache(ops.Square(x=PlaceParam(place="n"), site="s2"))
        Yield(value=ops.Concat(a=cached, b="!", site="s1"))
    first, _, _ = run(session, p, [{"k": key, "n": 3}], new_recorder)
    assert first == y("yield", (f(0), "9!")) + ok(f(0))
    # A hit gives the cached 9, not the 16 the body would compute now; a new key misses.
    hit, _, _ = run(session, p, [{"k": key, "n": 4}, {"k": [key, 2], "n": 4}], new_recorder)
    assert hit == y("yield", (f(0), "9!"), (f(1), "16!")) + ok(f(0), f(1))
    with Session(federation, "home") as other:
        again, _, _ = run(other, p, [{"k": key, "n": 5}], new_recorder)
    assert again == y("yield", (f(0), "9!")) + ok(f(0))


def test_for_each_over_a_non_iterable_names_the_node(
    session: Session, ops: ModuleType, new_recorder: Any
) -> None:
    with Pipeline() as p:
        seq = ops.Echo(x=PlaceParam(place="x"), site="s1")
        with ForEach(seq=seq) as item:
            Yield(value=ops.Echo(x=item, site="s2"))
    _, job, recorder = run(session, p, [{"x": [1]}, {"x": 7}], new_recorder)
    status = dict(recorder.at(STATUS_PLACE_NAME))
    assert status[Frame([0])] == StopToken()
    error = status[Frame([1])]
    assert isinstance(error, ErrorToken) and error.errors[0].node_id == 1
    assert "ForEach (node 1): the sequence is not iterable (a int: 7)" in error.errors[0].message
    assert recorder.at("yield") == [(Frame([0, 0]), 1)]
    assert job.get_status() is JobStatus.FAILED


def test_sequential_for_each_with_best_of_inside(
    session: Session, ops: ModuleType, new_recorder: Any
) -> None:
    with Pipeline() as p:
        with ForEach(seq=PlaceParam(place="xs"), sequential=True) as x:
            Yield(value=ops.Square(x=x, site=BestOf(sites=["s2"])))
    got, _, recorder = run(session, p, {"xs": [3, 1, 2]}, new_recorder)
    assert got == y("yield", (f(0, 0), 9), (f(0, 1), 1), (f(0, 2), 4)) + ok(f(0))
    # One element after the other: the results arrive in order.
    assert [frame for frame, _ in recorder.at("yield")] == [
        Frame([0, 0]),
        Frame([0, 1]),
        Frame([0, 2]),
    ]
