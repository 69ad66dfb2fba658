"""NetRunner on hand-built NetIRs: one op, parameters, many frames, sync adapters, cancel."""

from __future__ import annotations

import asyncio
import threading

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

from dfm.api import START_PLACE_NAME, STATUS_PLACE_NAME, Frame, StopToken
from dfm.irgen import LiteralValue, PlaceValue, StmtValue, TokenSend, Transition

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, **kw):
        return kw.get("x")

    async def call_ops_Concat(self, a, b="!"):
        return f"{a}{b}"

    def call_ops_SyncEcho(self, **kw):
        return {"x": kw.get("x"), "thread": threading.get_ident()}

    async def call_ops_Sleep(self, x, t=0.0):
        await asyncio.sleep(t)
        return x

    async def call_ops_Timeout(self, x):
        async with asyncio.timeout(5):
            return x
"""

F0, F1 = Frame.start_frame(0), Frame.start_frame(1)
STOP = Frame.stop_frame()


async def test_one_op_yield_and_status(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    await h.run([{"x": "hello"}, {"x": [1, 2]}])
    assert h.on("yield") == {F0: "hello", F1: [1, 2]}
    status = [r for r in h.received if r.place == STATUS_PLACE_NAME]
    assert [r.frame for r in status][-1] == STOP
    assert {r.frame for r in status} == {F0, F1, STOP}
    assert all(r.value == StopToken() for r in status)
    yields = [r for r in h.received if r.place == "yield"]
    assert {r.node for r in yields} == {0}
    assert {r.site for r in yields} == {"app"}
    # the final status token comes after everything else
    assert h.received[-1].frame == STOP


async def test_literal_params_and_place_params(make_federation) -> None:
    fed = make_federation({"app": SITE})
    ir = one_op_net(fed, "ops.Concat", a=PlaceValue(place="node0__x"), b=("json", "?"))
    h = Harness({"app": ir})
    await h.run([{"x": "a"}, {"x": "b"}])
    assert h.on("yield") == {F0: "a?", F1: "b?"}


async def test_adapter_defaults_apply_when_not_passed(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Concat", a=PlaceValue(place="node0__x"))})
    await h.run([{"x": "a"}])
    assert h.on("yield") == {F0: "a!"}


async def test_asyncio_timeout_works_in_async_adapters(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Timeout")})
    await h.run([{"x": 1}])
    assert h.on("yield") == {F0: 1}


async def test_sync_adapter_runs_off_the_loop_thread(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.SyncEcho", is_async=False)})
    await h.run([{"x": 1}, {"x": 2}])
    got = h.on("yield")
    assert {f: v["x"] for f, v in got.items()} == {F0: 1, F1: 2}
    assert all(v["thread"] != threading.get_ident() for v in got.values())


async def test_sync_adapter_uses_the_given_executor(make_federation) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fed = make_federation({"app": SITE})
    with ThreadPoolExecutor(1, thread_name_prefix="site-pool") as pool:
        names = pool.submit(lambda: threading.get_ident()).result()
        h = Harness({"app": one_op_net(fed, "ops.SyncEcho", is_async=False)}, executor=pool)
        await h.run([{"x": 1}])
    assert h.on("yield")[F0]["thread"] == names


async def test_frames_fire_concurrently(make_federation) -> None:
    fed = make_federation({"app": SITE})
    ir = one_op_net(
        fed, "ops.Sleep", x=PlaceValue(place="node0__x"), t=PlaceValue(place="node0__t")
    )
    ir = netir(
        fed,
        "app",
        [
            ir.transitions[0].model_copy(
                update={"inputs": [*ir.transitions[0].inputs, data_in("node0__t", True)]}
            ),
            ir.transitions[1],
        ],
        {**ir.external, "t": ["node0__t"]},
    )
    h = Harness({"app": ir})
    # Frame [0] sleeps, frame [1] does not: if frames fired one after the other, the
    # slow result would arrive first. (The time per token: tools/bench/bench_runtime.py.)
    await h.run([{"x": "slow", "t": 0.3}, {"x": "fast", "t": 0.0}])
    order = [r.value for r in h.received if r.place == "yield"]
    assert order == ["fast", "slow"]


async def test_many_frames(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    n = 2000
    await h.run([{"x": i} for i in range(n)])
    got = h.on("yield")
    assert got == {Frame.start_frame(i): i for i in range(n)}
    assert len([r for r in h.received if r.place == STATUS_PLACE_NAME]) == n + 1


async def test_literal_yield_transition_without_body(make_federation) -> None:
    fed = make_federation({"app": SITE})
    t0 = Transition(
        name="y0",
        inputs=[start("y0__start")],
        sends=[
            TokenSend(
                site="app", place="lit", is_yield=True, data=LiteralValue(value=("json", {"k": 1}))
            )
        ],
    )
    t1 = Transition(
        name="y1",
        inputs=[data_in("y1__value", external=True)],
        sends=[
            TokenSend(
                site="app",
                place="param",
                is_yield=True,
                data=PlaceValue(place="y1__value", sel="k"),
            ),
            done_send("app", "app", "y1"),
        ],
    )
    ir = netir(
        fed,
        "app",
        [
            t0.model_copy(update={"sends": [*t0.sends, done_send("app", "app", "y0")]}),
            t1,
            status_transition(["_done_app_y0", "_done_app_y1"]),
        ],
        {START_PLACE_NAME: ["y0__start"], "p": ["y1__value"]},
    )
    h = Harness({"app": ir})
    await h.run([{"p": {"k": "v0"}}, {"p": {"k": "v1"}}])
    assert h.on("lit") == {F0: {"k": 1}, F1: {"k": 1}}
    assert h.on("param") == {F0: "v0", F1: "v1"}


async def test_cancel_stops_running_adapters(make_federation) -> None:
    fed = make_federation({"app": SITE})
    ir = one_op_net(fed, "ops.Sleep", x=PlaceValue(place="node0__x"), t=("json", 30))
    h = Harness({"app": ir})
    h.start()
    runner = h.controllers["app"].runner
    runner.inject(F0, {"x": 1})
    await asyncio.sleep(0.01)
    assert not runner.done.done()
    runner.cancel()
    await asyncio.wait_for(runner.done, 1)
    runner.inject(F1, {"x": 2})
    runner.inject(STOP, {})
    await asyncio.sleep(0.01)
    assert h.received == []


async def test_cancel_a_sync_body(make_federation) -> None:
    src = (
        SITE
        + """
    def call_ops_Block(self, x):
        import time
        time.sleep(0.2)
        return x
"""
    )
    fed = make_federation({"app": src})
    h = Harness({"app": one_op_net(fed, "ops.Block", is_async=False)})
    h.start()
    runner = h.controllers["app"].runner
    runner.inject(F0, {"x": 1})
    await asyncio.sleep(0.01)
    runner.cancel()
    await asyncio.wait_for(runner.done, 1)
    await asyncio.sleep(0.3)
    assert h.received == []


async def test_tokens_before_start_are_kept(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed)})
    h.inject(F0, {"x": 5})
    h.inject(STOP, {})
    h.start()
    await asyncio.wait_for(h.controllers["app"].runner.done, 5)
    assert h.on("yield") == {F0: 5}


async def test_two_ops_in_one_transition_and_selection(make_federation) -> None:
    fed = make_federation({"app": SITE})
    t0 = Transition(
        name="node0",
        node_id=0,
        inputs=[start("s"), data_in("x", True)],
        body=[
            call(0, "ops.Echo", x=PlaceValue(place="x")),
            call(1, "ops.Concat", a=StmtValue(stmt_id="node0", sel="k"), b=("json", "#")),
        ],
        sends=[
            yield_of("node1", 1),
            yield_of("node0", 0, place="raw", sel="k", issubs=True),
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
    await h.run([{"x": {"k": "v"}}])
    assert h.on("yield") == {F0: "v#"}
    assert h.on("raw") == {F0: "v"}


@pytest.mark.parametrize("is_async", [True, False])
async def test_provider_adapter(make_federation, is_async: bool) -> None:
    src = """
class P1(Provider):
    async def call_ops_Echo(self, **kw):
        return (self.site.site_name, self.dfm_context.job_id, kw["x"])

    def call_ops_SyncEcho(self, **kw):
        return (self.site.site_name, self.dfm_context.job_id, kw["x"])


class ThisSite(Site):
    def __init__(self, dfm_context, **kw):
        super().__init__(dfm_context, **kw)
        self.p1 = P1(self)
"""
    fed = make_federation({"app": src})
    adapter = "ops.Echo" if is_async else "ops.SyncEcho"
    ir = one_op_net(fed, adapter, is_async=is_async)
    ir = netir(
        fed,
        "app",
        [
            ir.transitions[0].model_copy(
                update={
                    "body": [
                        call(
                            0,
                            adapter,
                            is_async=is_async,
                            provider="p1",
                            x=PlaceValue(place="node0__x"),
                        )
                    ]
                }
            ),
            ir.transitions[1],
        ],
        ir.external,
    )
    h = Harness({"app": ir})
    await h.run([{"x": 3}])
    assert h.on("yield") == {F0: ("app", "job1", 3)}
