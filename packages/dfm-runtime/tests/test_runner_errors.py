"""Errors are data: failing adapters, bad selections, unserializable values, bad senders."""

from __future__ import annotations

import asyncio
import logging

import pytest
from runtime_testkit import (
    Harness,
    call,
    data_in,
    done_send,
    netir,
    one_op_net,
    start,
    status_transition,
    yield_of,
)

from dfm.api import START_PLACE_NAME, STATUS_PLACE_NAME, ErrorToken, Frame, StopToken
from dfm.irgen import PlaceValue, Transition

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, **kw):
        return kw.get("x")

    async def call_ops_Fail(self, x):
        if x == "bad":
            raise ValueError(f"cannot handle {x}")
        return x

    def call_ops_SyncFail(self, x):
        raise KeyError(x)

    async def call_ops_Lock(self, x):
        return threading.Lock() if x == "lock" else x

    async def call_ops_Cancelled(self, x):
        raise asyncio.CancelledError()
"""

F0, F1 = Frame.start_frame(0), Frame.start_frame(1)
STOP = Frame.stop_frame()


def two_yield_net(fed: str, adapter: str = "ops.Fail", is_async: bool = True):
    """node0 = adapter(x) yielded to 'out'; node1 = Echo(x) in another transition → 'other'."""
    t0 = Transition(
        name="node0",
        node_id=0,
        inputs=[start("s0"), data_in("x0", True)],
        body=[call(0, adapter, is_async=is_async, x=PlaceValue(place="x0"))],
        sends=[yield_of("node0", 0, place="out"), done_send("app", "app", "node0")],
    )
    t1 = Transition(
        name="node1",
        node_id=1,
        inputs=[start("s1"), data_in("x1", True)],
        body=[call(1, "ops.Echo", x=PlaceValue(place="x1"))],
        sends=[yield_of("node1", 1, place="other"), done_send("app", "app", "node1")],
    )
    return netir(
        fed,
        "app",
        [t0, t1, status_transition(["_done_app_node0", "_done_app_node1"])],
        {START_PLACE_NAME: ["s0", "s1"], "x": ["x0", "x1"]},
    )


async def test_failing_adapter_errors_only_dependents(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": two_yield_net(fed)})
    await h.run([{"x": "good"}, {"x": "bad"}])
    out, other, status = h.on("out"), h.on("other"), h.on(STATUS_PLACE_NAME)
    assert out[F0] == "good"
    assert other == {F0: "good", F1: "bad"}  # the unrelated yield is still delivered
    err = out[F1]
    assert isinstance(err, ErrorToken)
    [info] = err.errors
    assert (info.type, info.message, info.node_id, info.site) == (
        "ValueError",
        "cannot handle bad",
        0,
        "app",
    )
    assert "call_ops_Fail" in info.stack_trace and "raise ValueError" in info.stack_trace
    # users read the operation's name, not only a node id
    assert info.operation == "ops.Fail" and info.where == "ops.Fail (node 0) on app"
    assert "at ops.Fail (node 0) on app" in str(err)
    assert "NoneType: None" not in info.stack_trace
    assert status[F0] == StopToken()
    assert status[F1] == err
    assert status[STOP] == StopToken()
    # the yielded error keeps the node id of the send
    assert [r.node for r in h.received if r.place == "out" and r.frame == F1] == [0]


async def test_failing_sync_adapter(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": two_yield_net(fed, "ops.SyncFail", is_async=False)})
    await h.run([{"x": "k"}])
    err = h.on("out")[F0]
    assert isinstance(err, ErrorToken) and err.errors[0].type == "KeyError"
    assert "call_ops_SyncFail" in err.errors[0].stack_trace
    assert "raise KeyError(x)" in err.errors[0].stack_trace  # the adapter's own frame
    assert h.on("other") == {F0: "k"}


async def test_errors_skip_downstream_adapters_and_merge(make_federation) -> None:
    fed = make_federation(
        {
            "app": SITE
            + """
    async def call_ops_Pair(self, a, b):
        raise AssertionError("must not run")
"""
        }
    )
    ta = Transition(
        name="a",
        node_id=0,
        inputs=[start("sa"), data_in("xa", True)],
        body=[call(0, "ops.Fail", x=PlaceValue(place="xa"))],
        sends=[
            yield_of("node0", 0, place="unused").model_copy(
                update={"is_yield": False, "site": "app", "place": "pa"}
            )
        ],
    )
    tb = Transition(
        name="b",
        node_id=1,
        inputs=[start("sb"), data_in("xb", True)],
        body=[call(1, "ops.Fail", x=PlaceValue(place="xb"))],
        sends=[
            yield_of("node1", 1).model_copy(
                update={"is_yield": False, "site": "app", "place": "pb"}
            )
        ],
    )
    tc = Transition(
        name="c",
        node_id=2,
        inputs=[data_in("pa"), data_in("pb")],
        body=[call(2, "ops.Pair", a=PlaceValue(place="pa"), b=PlaceValue(place="pb"))],
        sends=[yield_of("node2", 2), done_send("app", "app", "c")],
    )
    ir = netir(
        fed,
        "app",
        [ta, tb, tc, status_transition(["_done_app_c"])],
        {START_PLACE_NAME: ["sa", "sb"], "x": ["xa", "xb"]},
    )
    h = Harness({"app": ir})
    await h.run([{"x": "bad"}])
    err = h.on("yield")[F0]
    assert isinstance(err, ErrorToken)
    assert [(e.type, e.node_id) for e in err.errors] == [("ValueError", 0), ("ValueError", 1)]
    assert h.on(STATUS_PLACE_NAME)[F0] == err


async def test_selection_failure_errors_that_target_only(make_federation) -> None:
    fed = make_federation({"app": SITE})
    t0 = Transition(
        name="node0",
        node_id=0,
        inputs=[start("s"), data_in("x", True)],
        body=[call(0, "ops.Echo", x=PlaceValue(place="x"))],
        sends=[
            yield_of("node0", 0, place="picked", sel="missing"),
            yield_of("node0", 0, place="attr", sel="real", issubs=False),
            yield_of("node0", 0, place="whole"),
            done_send("app", "app", "node0"),
        ],
    )
    ir = netir(
        fed,
        "app",
        [t0, status_transition(["_done_app_node0"])],
        {START_PLACE_NAME: ["s"], "x": ["x"]},
    )
    h = Harness({"app": ir})
    await h.run([{"x": {"k": 1}}])
    err = h.on("picked")[F0]
    assert isinstance(err, ErrorToken)
    [info] = err.errors
    assert info.type == "SelectionError" and info.node_id == 0 and info.site == "app"
    assert "'missing'" in info.message and "KeyError" in info.message
    assert "of the value of ops.Echo (node 0) (a dict)" in info.message
    assert info.where == "ops.Echo (node 0) on app"
    assert isinstance(h.on("attr")[F0], ErrorToken)
    assert h.on("whole") == {F0: {"k": 1}}
    assert h.on(STATUS_PLACE_NAME)[F0] == StopToken()


async def test_unserializable_value_errors_that_frame(make_federation, caplog) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": two_yield_net(fed, "ops.Lock")})
    await h.run([{"x": "lock"}, {"x": "fine"}])
    err = h.on("out")[F0]
    assert isinstance(err, ErrorToken)
    assert err.errors[0].type == "SerializationError"
    assert err.errors[0].where == "ops.Lock (node 0) on app"
    assert "lock" in err.errors[0].message
    assert h.on("out")[F1] == "fine"
    assert h.on(STATUS_PLACE_NAME)[STOP] == StopToken()


async def test_adapter_raising_cancelled_error_becomes_an_error(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": two_yield_net(fed, "ops.Cancelled")})
    await h.run([{"x": 1}])
    err = h.on("out")[F0]
    assert isinstance(err, ErrorToken) and err.errors[0].type == "CancelledError"


async def test_duplicate_value_for_a_frame_becomes_an_error(make_federation, caplog) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    h.start()
    runner = h.controllers["app"].runner
    with caplog.at_level(logging.ERROR):
        runner.deliver("node0__x", F0, "a")
        runner.deliver("node0__x", F0, "b")
    assert "second value" in caplog.text
    runner.deliver("node0__start", F0, None)
    runner.inject(STOP, {})
    await asyncio.wait_for(runner.done, 5)
    err = h.on("yield")[F0]
    assert isinstance(err, ErrorToken) and err.errors[0].type == "DuplicateToken"
    assert err.errors[0].where == "ops.Echo (node 0) on app"


async def test_incomplete_frame_gets_an_error_at_stop(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    h.start()
    runner = h.controllers["app"].runner
    runner.deliver("node0__x", F0, "only x")
    runner.inject(STOP, {})
    await asyncio.wait_for(runner.done, 5)
    err = h.on("yield")[F0]
    assert isinstance(err, ErrorToken) and err.errors[0].type == "IncompleteFrame"
    assert "'node0__start'" in err.errors[0].message
    assert h.on(STATUS_PLACE_NAME)[F0] == err
    assert h.on(STATUS_PLACE_NAME)[STOP] == StopToken()


async def test_unknown_place_is_logged_not_fatal(make_federation, caplog) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    with caplog.at_level(logging.ERROR):
        h.controllers["app"].runner.deliver("nope", F0, 1)
        await h.run([{"x": 1}])
    assert "no place 'nope'" in caplog.text
    assert h.on("yield") == {F0: 1}


async def test_refused_pickle_is_an_error_token_on_the_receiver(make_federation) -> None:
    from dfm.api import DecodePolicy, encode_value
    from dfm.runtime import TokenPackage

    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)}, decode_policy=DecodePolicy())
    h.start()
    runner = h.controllers["app"].runner
    payload = encode_value({1, 2})
    assert payload[0] == "pickle"
    runner.deliver_package(TokenPackage("job1", "s9", 7, "app", "node0__x", False, F0, payload))
    runner.inject(F0, {})
    runner.inject(STOP, {})
    await asyncio.wait_for(runner.done, 5)
    err = h.on("yield")[F0]
    assert isinstance(err, ErrorToken)
    assert err.errors[0].type == "SerializationError" and "unpickle" in err.errors[0].message


async def test_router_failure_is_logged_and_the_job_completes(make_federation, caplog) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    calls = []

    def broken(package):
        calls.append(package)
        if len(calls) == 1:
            raise OSError("network down")

    h.router.route = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        await h.run([{"x": 1}])
    assert "router failed" in caplog.text
    assert len(calls) == 3  # yield (failed), status for F0, final status


@pytest.mark.parametrize("eager", [False, True])
async def test_internal_failure_fails_done(make_federation, eager: bool) -> None:
    import dataclasses

    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    runner = h.controllers["app"].runner

    def broken_fire(frame, values):
        raise RuntimeError("bug")

    h.start()
    state = runner._states[0]
    state.spec = dataclasses.replace(state.spec, eager=eager)
    state.fire = broken_fire
    runner.inject(F0, {"x": 1})
    with pytest.raises(RuntimeError, match="bug"):
        await asyncio.wait_for(runner.done, 5)
    runner.inject(F1, {"x": 1})  # ignored after the failure
