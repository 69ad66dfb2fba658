"""Blocks run across sites: ForEach, streaming, If, TryFromCache (through the wire)."""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from blocks_kit import SITE, SITES, compile_pipeline, frames, multiset, run, statuses, write_ops

from dfm.api import (
    STATUS_PLACE_NAME,
    And,
    DecodePolicy,
    Equal,
    ErrorToken,
    ForEach,
    Frame,
    GreaterThan,
    If,
    LessThanOrEqual,
    Not,
    NotEqual,
    Or,
    Pipeline,
    PlaceParam,
    StopToken,
    TryFromCache,
    Yield,
)

STOP = str(Frame.stop_frame())


@pytest.fixture
def fed(make_federation: Any) -> str:
    return str(make_federation({s: SITE for s in SITES}))


@pytest.fixture
def ops(tmp_path: Path) -> Any:
    return write_ops(tmp_path)


def site_module(fed: str, site: str) -> Any:
    return importlib.import_module(f"{fed}.fed.runtime.{site}")


def ok(*frames_: str) -> Counter[tuple[str, str, str]]:
    return Counter((STATUS_PLACE_NAME, f, repr(StopToken())) for f in (*frames_, STOP))


def yields(place: str, *items: tuple[str, Any]) -> Counter[tuple[str, str, str]]:
    return Counter((place, f, repr(v)) for f, v in items)


def errors_of(token: Any) -> list[tuple[str, Any, str]]:
    assert isinstance(token, ErrorToken), token
    return [(e.type, e.node_id, e.message) for e in token.errors]


# -- ForEach ---------------------------------------------------------------------------
def test_for_each_across_two_sites(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        numbers = ops.Echo(x=PlaceParam(place="n"), site="s1")
        with ForEach(seq=numbers) as x:
            Yield(value=ops.Square(x=x, site="s2"), place="sq")
    prepared = compile_pipeline(p, fed)
    got = run(prepared, [{"n": [1, 2, 3]}, {"n": []}, {"n": (4,)}])
    assert multiset(got) == yields(
        "sq",
        (frames(0, 0), 1),
        (frames(0, 1), 4),
        (frames(0, 2), 9),
        (frames(2, 0), 16),
    ) + ok(frames(0), frames(1), frames(2))
    assert got[-1] == (STATUS_PLACE_NAME, Frame.stop_frame(), StopToken())
    calls = [c for c in site_module(fed, "s2").CALLS if c[0] == "Square"]
    assert sorted(c[2] for c in calls) == [1, 2, 3, 4]


def test_for_each_over_a_non_iterable_fails_only_that_frame(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        with ForEach(seq=PlaceParam(place="xs")) as x:
            Yield(value=ops.Echo(x=x, site="s2"))
    got = run(compile_pipeline(p, fed), [{"xs": [7]}, {"xs": 5}])
    status = statuses(got)
    assert status[frames(0)] == StopToken()
    [(kind, node, message)] = errors_of(status[frames(1)])
    assert (kind, node) == ("TypeError", 0)
    assert status[frames(1)].errors[0].where.startswith("ForEach (node 0) on ")
    assert "ForEach (node 0): the sequence is not iterable (a int: 5)" in message
    assert "pass a list, tuple, generator or other iterable" in message
    assert [(p_, str(f), v) for p_, f, v in got if p_ == "yield"] == [("yield", frames(0, 0), 7)]


def test_nested_for_each_with_values_from_every_level(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        rows = ops.Echo(x=PlaceParam(place="rows"), site="s1")
        tag = ops.Echo(x=PlaceParam(place="tag"), site="s2")
        with ForEach(seq=rows) as row:
            with ForEach(seq=row["cells"]) as cell:
                pair = ops.Pair(a=row["name"], b=cell, site="s2")
                Yield(value=ops.Pair(a=pair, b=tag, site="s1"))
    rows = [{"name": "a", "cells": [1, 2]}, {"name": "b", "cells": []}, {"name": "c", "cells": [3]}]
    got = run(compile_pipeline(p, fed), [{"rows": rows, "tag": "T"}])
    assert multiset(got) == yields(
        "yield",
        (frames(0, 0, 0), [["a", 1], "T"]),
        (frames(0, 0, 1), [["a", 2], "T"]),
        (frames(0, 2, 0), [["c", 3], "T"]),
    ) + ok(frames(0))


def test_element_errors_fail_their_element_and_the_frame(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        with ForEach(seq=PlaceParam(place="xs")) as x:
            Yield(value=ops.Fail(x=x, site="s1"), place="bad")
            Yield(value=ops.Echo(x=x, site="s2"), place="good")
    got = run(compile_pipeline(p, fed), [{"xs": [1, 2]}])
    good = {(str(f), v) for p_, f, v in got if p_ == "good"}
    assert good == {(frames(0, 0), 1), (frames(0, 1), 2)}
    bad = {str(f): errors_of(v)[0][2] for p_, f, v in got if p_ == "bad"}
    assert bad == {frames(0, 0): "bad element 1", frames(0, 1): "bad element 2"}
    messages = sorted(m for _, _, m in errors_of(statuses(got)[frames(0)]))
    assert messages == ["bad element 1", "bad element 2"]


def test_elements_run_concurrently_unless_sequential(fed: str, ops: Any) -> None:
    for sequential, most in [(False, 5), (True, 1)]:
        running = site_module(fed, "s2").RUNNING
        running[:] = [0, 0]
        with Pipeline() as p:
            with ForEach(seq=PlaceParam(place="xs"), sequential=sequential) as x:
                Yield(value=ops.Slow(x=x, site="s2"))
        got = run(compile_pipeline(p, fed), [{"xs": list(range(5))}])
        assert sorted(v for p_, _, v in got if p_ == "yield") == [0, 1, 2, 3, 4]
        assert running[1] == most


# -- streaming ---------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["Gen", "AGen"])
def test_generator_elements_flow_and_the_whole_is_a_list(fed: str, ops: Any, op: str) -> None:
    with Pipeline() as p:
        g = getattr(ops, op)(n=PlaceParam(place="n"), site="s1")
        with ForEach(seq=g) as x:
            Yield(value=ops.Square(x=x, site="s2"))
        Yield(value=g, place="whole")
    got = run(compile_pipeline(p, fed), [{"n": 3}, {"n": 0}])
    assert multiset(got) == yields(
        "yield", (frames(0, 0), 0), (frames(0, 1), 1), (frames(0, 2), 4)
    ) + yields("whole", (frames(0), [0, 1, 2]), (frames(1), [])) + ok(frames(0), frames(1))


def test_a_generator_used_outside_a_for_each_arrives_as_a_list(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        g = ops.Gen(n=PlaceParam(place="n", multiuse=True), site="s1")
        Yield(value=ops.Echo(x=g, site="s2"))
        Yield(value=ops.AGen(n=PlaceParam(place="n", multiuse=True), site="s1"), place="agen")
    got = run(compile_pipeline(p, fed), [{"n": 2}])
    assert multiset(got) == yields("yield", (frames(0), [0, 1])) + yields(
        "agen", (frames(0), [0, 1])
    ) + ok(frames(0))


def test_first_result_arrives_before_the_generator_ends(fed: str, ops: Any) -> None:
    # The generator blocks after its first element until the application has the first
    # result: without streaming, this job could never finish.
    site = site_module(fed, "s1")
    site.GATE.clear()
    with Pipeline() as p:
        with ForEach(seq=ops.Held(n=3, site="s1")) as x:
            Yield(value=ops.Echo(x=x, site="s2"))
    prepared = compile_pipeline(p, fed)

    async def go() -> list[Any]:
        from runtime_testkit import Harness

        harness = Harness(prepared.net_irs())
        job = asyncio.ensure_future(harness.run([{}], 10))
        while not any(r.place == "yield" for r in harness.received):
            await asyncio.sleep(0.001)
        site.GATE.set()
        return await job

    got = asyncio.run(go())
    assert sorted(r.value for r in got if r.place == "yield") == [0, 1, 2]
    assert got[0].place == "yield" and got[0].frame == Frame([0, 0])


def test_a_failing_generator_keeps_what_it_produced(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        with ForEach(seq=ops.Gen(n=5, fail_at=2, site="s1")) as x:
            Yield(value=ops.Echo(x=x, site="s2"))
    got = run(compile_pipeline(p, fed), [{}])
    assert sorted(v for p_, _, v in got if p_ == "yield") == [0, 1]
    [(kind, node, message)] = errors_of(statuses(got)[frames(0)])
    assert kind == "RuntimeError" and node == 1
    assert message == (
        "ForEach (node 1): the sequence failed after 2 element(s): generator broke at 2"
    )


# -- If ----------------------------------------------------------------------------------
def test_if_with_and_or_not_over_results_params_and_literals(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        e = ops.Echo(x=PlaceParam(place="v"), site="s1")
        cond = Or(
            exp=[
                And(
                    exp=[
                        GreaterThan(left=e["n"], right=PlaceParam(place="low")),
                        Not(exp=Equal(left=e["tag"], right="skip")),
                    ]
                ),
                LessThanOrEqual(left=e["n"], right=-10),
            ]
        )
        with If(cond=cond):
            Yield(value=ops.Square(x=e["n"], site="s2"), place="sq")
            Yield(value=e["tag"], place="tag")
            Yield(value="ran", place="lit")
    params = [
        {"v": {"n": 5, "tag": "a"}, "low": 1},  # true
        {"v": {"n": 5, "tag": "skip"}, "low": 1},  # false: Not
        {"v": {"n": 0, "tag": "a"}, "low": 1},  # false: GreaterThan
        {"v": {"n": -20, "tag": "skip"}, "low": 1},  # true: the Or's second branch
    ]
    got = run(compile_pipeline(p, fed), params)
    assert multiset(got) == (
        yields("sq", (frames(0), 25), (frames(3), 400))
        + yields("tag", (frames(0), "a"), (frames(3), "skip"))
        + yields("lit", (frames(0), "ran"), (frames(3), "ran"))
        + ok(frames(0), frames(1), frames(2), frames(3))
    )
    squares = [c[2] for c in site_module(fed, "s2").CALLS if c[0] == "Square"]
    assert sorted(squares) == [-20, 5]  # the body never ran for false frames


def test_if_that_cannot_be_evaluated_fails_its_frame(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        e = ops.Echo(x=PlaceParam(place="v"), site="s1")
        with If(cond=GreaterThan(left=e, right=3)):
            Yield(value=ops.Echo(x=e, site="s2"))
    got = run(compile_pipeline(p, fed), [{"v": None}, {"v": 4}])
    [(kind, node, message)] = errors_of(statuses(got)[frames(0)])
    assert (kind, node) == ("TypeError", 1) and message.startswith("If (node 1): the condition")
    assert statuses(got)[frames(0)].errors[0].operation == "If"
    assert statuses(got)[frames(1)] == StopToken()


def test_if_inside_for_each_and_for_each_inside_if(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        items = ops.Echo(x=PlaceParam(place="items"), site="s1")
        with ForEach(seq=items) as item:
            with If(cond=NotEqual(left=item["keep"], right=False)):
                Yield(value=ops.Echo(x=item["v"], site="s2"), place="kept")
        with If(cond=PlaceParam(place="go")):
            with ForEach(seq=items) as again:
                Yield(value=again["v"], place="again")
    items = [{"v": 1, "keep": True}, {"v": 2, "keep": False}, {"v": 3, "keep": None}]
    got = run(compile_pipeline(p, fed), [{"items": items, "go": True}, {"items": items, "go": 0}])
    assert multiset(got) == (
        yields("kept", (frames(0, 0), 1), (frames(0, 2), 3), (frames(1, 0), 1), (frames(1, 2), 3))
        + yields("again", (frames(0, 0), 1), (frames(0, 1), 2), (frames(0, 2), 3))
        + ok(frames(0), frames(1))
    )


# -- TryFromCache ----------------------------------------------------------------------------
def test_cache_miss_then_hit_across_jobs(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        with TryFromCache(key=PlaceParam(place="k")) as cached:
            cached.cache(ops.Square(x=PlaceParam(place="n"), site="s2"))
        Yield(value=ops.Echo(x=cached, site="s1"))
        Yield(value=cached, place="cached")
    prepared = compile_pipeline(p, fed)
    calls = site_module(fed, "s2").CALLS
    first = run(prepared, [{"k": "a", "n": 3}, {"k": {"b": [1, 2]}, "n": 4}])
    assert multiset(first) == yields("yield", (frames(0), 9), (frames(1), 16)) + yields(
        "cached", (frames(0), 9), (frames(1), 16)
    ) + ok(frames(0), frames(1))
    squares = len([c for c in calls if c[0] == "Square"])
    again = run(compile_pipeline(p, fed), [{"k": "a", "n": 5}, {"k": {"b": [1, 2]}, "n": 6}])
    assert multiset(again) == multiset(first)  # the cached values, not 25 and 36
    assert len([c for c in calls if c[0] == "Square"]) == squares  # no adapter call on a hit


def test_cache_keys_from_results_inside_for_each_and_a_bad_key(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        with ForEach(seq=PlaceParam(place="keys")) as key:
            with TryFromCache(key=ops.Echo(x=key, site="s1")) as cached:
                cached.cache(ops.Pair(a=key, b="computed", site="s2"))
            Yield(value=cached)
    prepared = compile_pipeline(p, fed)
    got = run(prepared, [{"keys": ["x", ["y"], ("z", 1)]}])
    values = {str(f): v for p_, f, v in got if p_ == "yield"}
    assert values == {
        frames(0, 0): ["x", "computed"],
        frames(0, 1): [["y"], "computed"],
        frames(0, 2): [("z", 1), "computed"],
    }
    bad = run(prepared, [{"keys": [{1, 2}]}])
    [(kind, _, message)] = errors_of(statuses(bad)[frames(0)])
    assert kind == "ValueError" and "the key is not a JSON value (a set is not" in message


def test_cache_lives_in_the_site_cache_storage(fed: str, ops: Any, tmp_path: Path) -> None:
    import os

    with Pipeline() as p:
        with TryFromCache(key="fixed") as cached:
            cached.cache(ops.Echo(x=1, site="s1"))
        Yield(value=cached)
    prepared = compile_pipeline(p, fed)
    run(prepared, [{}])
    site = prepared.placement["node0"]
    base = Path(os.environ["XDG_CACHE_HOME"]) / "dfm" / fed / "cache" / "dfm-block-cache"
    entries = list((base / fed / site).rglob("*.json"))
    assert len(entries) == 1
    assert json.loads(entries[0].read_text()) == {"key": '"fixed"', "value": ["json", 1]}
    entries[0].write_text("not json")  # a damaged entry is a miss, and is rewritten
    assert [v for p_, _, v in run(prepared, [{}]) if p_ == "yield"] == [1]
    assert json.loads(entries[0].read_text())["key"] == '"fixed"'


def test_elements_the_receiving_site_refuses_fail_alone(fed: str, ops: Any) -> None:
    # s2 refuses pickles: the element that needs one fails, the others arrive.
    with Pipeline() as p:
        with ForEach(seq=ops.Echo(x=PlaceParam(place="xs"), site="s1")) as x:
            Yield(value=ops.Echo(x=x, site="s2"))
    prepared = compile_pipeline(p, fed)
    got = run(prepared, [{"xs": [1, threading.Lock, 3]}], decode_policy=DecodePolicy())
    values = {str(f): v for p_, f, v in got if p_ == "yield"}
    assert values[frames(0, 0)] == 1 and values[frames(0, 2)] == 3
    assert "pickle" in errors_of(values[frames(0, 1)])[0][2]


# -- combinations ------------------------------------------------------------------------
def test_blocks_combined(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        items = ops.Echo(x=PlaceParam(place="items"), site="s1")
        limit = ops.Echo(x=PlaceParam(place="limit"), site="s2")
        with ForEach(seq=items) as item:
            twice = ops.Pair(a=item, b=ops.Echo(x=item, site="s2"), site="s1")  # two inputs
            Yield(value=twice, place="pair")
            Yield(value="tick", place="tick")  # a literal, once per element
            with If(cond=GreaterThan(left=limit, right=1)):  # reads only an outer value
                Yield(value=PlaceParam(place="tag"), place="tagged")
            with TryFromCache(key=item) as cached:
                with If(cond=Equal(left=item, right=2)):
                    Yield(value="computing 2", place="note")
                cached.cache(ops.Square(x=item, site="s2"))
            with ForEach(seq=PlaceParam(place="empty", multiuse=True)):
                pass
        first = ops.Echo(x=[1, 2], site="s1")
        with ForEach(seq=first) as again:
            Yield(value=ops.Echo(x=again, site="s2", dfm_after=first), place="again")
        Yield(value=PlaceParam(place="empty", multiuse=True), place="nothing")
    prepared = compile_pipeline(p, fed)
    params = [{"items": [1, 2], "limit": 5, "tag": "T", "empty": []}]
    got = run(prepared, params)
    assert multiset(got) == (
        yields("pair", (frames(0, 0), [1, 1]), (frames(0, 1), [2, 2]))
        + yields("tick", (frames(0, 0), "tick"), (frames(0, 1), "tick"))
        + yields("tagged", (frames(0, 0), "T"), (frames(0, 1), "T"))
        + yields("note", (frames(0, 1), "computing 2"))
        + yields("again", (frames(0, 0), 1), (frames(0, 1), 2))
        + yields("nothing", (frames(0), []))
        + ok(frames(0))
    )
    # Now the cache hits: the body of the TryFromCache does not run ("note" is gone).
    params[0]["limit"] = 0
    got = run(compile_pipeline(p, fed), params)
    assert not [v for p_, _, v in got if p_ in ("note", "tagged")]
    assert statuses(got) == {frames(0): StopToken(), STOP: StopToken()}


def test_for_each_over_a_cached_list_and_sequential_nesting(fed: str, ops: Any) -> None:
    with Pipeline() as p:
        with TryFromCache(key="lists") as cached:
            cached.cache(ops.Echo(x=[[1, 2], [3]], site="s1"))
        with ForEach(seq=cached, sequential=True) as inner:
            with ForEach(seq=inner) as x:
                Yield(value=ops.Slow(x=x, site="s2"))
    got = run(compile_pipeline(p, fed), [{}])
    assert multiset(got) == yields(
        "yield", (frames(0, 0, 0), 1), (frames(0, 0, 1), 2), (frames(0, 1, 0), 3)
    ) + ok(frames(0))


def test_a_value_that_cannot_be_cached_is_still_passed_on(
    fed: str, ops: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with Pipeline() as p:
        with TryFromCache(key="unsendable") as cached:
            cached.cache(ops.Echo(x=PlaceParam(place="v"), site="s1"))
        Yield(value=ops.Echo(x=cached, site="s1"))
    prepared = compile_pipeline(p, fed)
    with caplog.at_level("WARNING"):
        # A lock cannot be pickled: nothing is stored, the value goes on on its site.
        got = run(prepared, [{"v": threading.Lock()}])
    assert "is not cached" in caplog.text
    assert statuses(got)[frames(0)] != StopToken()  # the yield itself cannot be sent
    got = run(prepared, [{"v": 5}])  # still a miss
    assert [v for p_, _, v in got if p_ == "yield"] == [5]


def test_tokens_with_frames_of_the_wrong_depth_are_dropped(
    fed: str, ops: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A site trusts nothing it receives: a token for a frame deeper than the place's
    # depth (or a malformed element batch) is dropped with an error, never taken for
    # a close or an element, and the job still completes.
    from dfm.api import Frame as F

    with Pipeline() as p:
        with ForEach(seq=PlaceParam(place="xs")) as x:
            Yield(value=ops.Echo(x=x, site="s2"))
    prepared = compile_pipeline(p, fed)

    async def go() -> list[Any]:
        from runtime_testkit import Harness

        harness = Harness(prepared.net_irs())
        harness.start()
        s2 = harness.controllers["s2"].runner
        collect = next(
            t for t in prepared.net_irs()["s2"].transitions if t.name.endswith("collect")
        )
        report = collect.inputs[1].name
        s2.deliver(report, F([0, 0, 0, 0]), None)  # deeper than any frame of the job
        scatter = next(t for t in prepared.net_irs()["s2"].transitions if "scatter" in t.name)
        s2.deliver(scatter.inputs[0].name, F([0]), [0, "not a list"])
        harness.inject(F([0]), {"xs": [1, 2]})
        harness.inject(F.stop_frame(), {})
        await asyncio.wait_for(
            asyncio.gather(*(c.runner.done for c in harness.controllers.values())), 10
        )
        return harness.received

    with caplog.at_level("ERROR"):
        got = asyncio.run(go())
    assert "received a token for frame [0, 0, 0, 0]" in caplog.text
    assert "malformed element batch" in caplog.text
    assert sorted(r.value for r in got if r.place == "yield") == [1, 2]
    assert {str(r.frame): r.value for r in got if r.place == STATUS_PLACE_NAME}[frames(0)] == (
        StopToken()
    )
