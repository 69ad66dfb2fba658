"""Async adapters see a real Task of their own, whatever runs their first step.

On Python 3.11 AsyncFirings runs firings in a shared worker Task until one suspends;
these tests pin what an adapter may rely on: one Task for its whole call, its own
context variables, timeouts that cancel it alone, concurrency of suspended calls, and
cancellation of the job.
"""

from __future__ import annotations

import asyncio
import importlib

import pytest
from runtime_testkit import Harness, one_op_net

from dfm.api import ErrorToken, Frame

SITE = """
import asyncio
import contextvars

SEEN = []
VAR = contextvars.ContextVar("VAR", default=None)
BARRIER = {"waiting": 0, "event": None}


class ThisSite(Site):
    async def call_ops_Same(self, x=None):
        before = asyncio.current_task()
        if x % 2:
            await asyncio.sleep(0.01)
        SEEN.append((x, id(before), asyncio.current_task() is before))
        return x

    async def call_ops_Var(self, x=None):
        old = VAR.get()
        VAR.set(x)
        await asyncio.sleep(0) if x % 3 == 0 else None
        return [old, VAR.get()]

    async def call_ops_Deadline(self, x=None):
        async with asyncio.timeout(0.05 if x == 0 else 5):
            await asyncio.sleep(0.5 if x == 0 else 0.0)
        return x

    async def call_ops_Meet(self, x=None):
        # Every call waits until all of them are waiting: serialized calls never meet.
        state = BARRIER
        if state["event"] is None:
            state["event"] = asyncio.Event()
        state["waiting"] += 1
        if state["waiting"] == 40:
            state["event"].set()
        await asyncio.wait_for(state["event"].wait(), 5)
        return x

    async def call_ops_Forever(self, x=None):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            SEEN.append(("cancelled", x))
            raise
"""


def module(fed: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"{fed}.fed.runtime.app")


async def test_an_adapter_keeps_one_task_for_its_whole_call(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Same")})
    await h.run([{"x": i} for i in range(20)])
    assert h.on("yield") == {Frame.start_frame(i): i for i in range(20)}
    seen = module(fed).SEEN
    assert len(seen) == 20 and all(same for _, _, same in seen)
    # Two calls that were suspended at once never shared a Task.
    suspended = [task for x, task, _ in seen if x % 2]
    assert len(set(suspended)) == len(suspended)


async def test_context_variables_do_not_leak_between_calls(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Var")})
    await h.run([{"x": i} for i in range(30)])
    assert h.on("yield") == {Frame.start_frame(i): [None, i] for i in range(30)}


async def test_a_timeout_cancels_only_its_own_call(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Deadline")})
    await h.run([{"x": i} for i in range(10)])
    results = h.on("yield")
    assert isinstance(results[Frame.start_frame(0)], ErrorToken)
    assert "TimeoutError" in str(results[Frame.start_frame(0)])
    assert {f: v for f, v in results.items() if f != Frame.start_frame(0)} == {
        Frame.start_frame(i): i for i in range(1, 10)
    }


async def test_suspended_calls_run_concurrently(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Meet")})
    await h.run([{"x": i} for i in range(40)], timeout=20)
    assert h.on("yield") == {Frame.start_frame(i): i for i in range(40)}


async def test_cancel_reaches_every_suspended_call(make_federation) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Forever")})
    h.start()
    for i in range(5):
        h.inject(Frame.start_frame(i), {"x": i})
    for _ in range(5):
        await asyncio.sleep(0.01)
    runner = h.controllers["app"].runner
    runner.cancel()
    await asyncio.wait_for(runner.done, 5)
    for _ in range(3):
        await asyncio.sleep(0)
    assert sorted(module(fed).SEEN) == [("cancelled", i) for i in range(5)]


@pytest.mark.parametrize("n", [1, 100])
async def test_many_quick_calls_in_one_worker_keep_their_order(make_federation, n: int) -> None:
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Var")})
    await h.run([{"x": 3 * i + 1} for i in range(n)])  # never suspends
    yields = [r.frame for r in h.received if r.place == "yield"]
    assert yields == [Frame.start_frame(i) for i in range(n)]


async def test_a_bookkeeping_failure_fails_the_runner_instead_of_hanging(
    make_federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dfm.runtime import NetRunner

    def broken(self, state, frame, error):  # type: ignore[no-untyped-def]
        raise RuntimeError("bookkeeping bug")

    monkeypatch.setattr(NetRunner, "_body_done", broken)
    fed = make_federation({"app": SITE})
    h = Harness({"app": one_op_net(fed, "ops.Var")})
    with pytest.raises(RuntimeError, match="bookkeeping bug"):
        await h.run([{"x": 1}, {"x": 2}], timeout=5)
