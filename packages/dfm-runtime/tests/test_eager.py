"""resume(): finishing an eagerly started coroutine inside a Task behaves like a Task."""

from __future__ import annotations

import asyncio
import types

import pytest

from dfm.runtime._eager import resume


def start(coro):
    """The eager first step, as the runner does it."""
    return coro, coro.send(None)


async def test_futures_results_and_exceptions_reach_the_coroutine() -> None:
    loop = asyncio.get_running_loop()
    ok, bad = loop.create_future(), loop.create_future()

    async def body():
        first = await ok
        try:
            await bad
        except KeyError as e:
            return (first, repr(e))

    task = asyncio.ensure_future(resume(*start(body())))
    ok.set_result(1)
    await asyncio.sleep(0)
    bad.set_exception(KeyError("k"))
    assert await task == (1, "KeyError('k')")


async def test_sleeps_and_executor_futures() -> None:
    loop = asyncio.get_running_loop()

    async def body():
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        return await loop.run_in_executor(None, sum, [1, 2])

    assert await resume(*start(body())) == 3


async def test_tracebacks_from_the_executor_are_kept() -> None:
    import traceback

    def fails() -> None:
        raise KeyError("deep")

    async def body():
        try:
            await asyncio.get_running_loop().run_in_executor(None, fails)
        except KeyError as e:
            return "".join(traceback.format_exception(e))

    assert 'raise KeyError("deep")' in await resume(*start(body()))


async def test_cancelling_the_task_cancels_the_coroutine() -> None:
    loop = asyncio.get_running_loop()
    never = loop.create_future()
    seen = []

    async def body():
        try:
            await never
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = asyncio.ensure_future(resume(*start(body())))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"] and never.cancelled()


async def test_cancel_after_the_future_completed_still_reaches_the_coroutine() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    seen = []

    async def body():
        try:
            await fut
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = asyncio.ensure_future(resume(*start(body())))
    await asyncio.sleep(0)
    fut.set_result(1)  # the task's wake-up is scheduled ...
    task.cancel()  # ... but it is cancelled first: fut cannot be cancelled any more
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_a_cancelled_future_raises_in_the_coroutine_which_may_recover() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    async def body():
        try:
            await fut
        except asyncio.CancelledError:
            return "recovered"

    task = asyncio.ensure_future(resume(*start(body())))
    await asyncio.sleep(0)
    fut.cancel()
    assert await task == "recovered"


async def test_bad_yield_is_thrown_back() -> None:
    @types.coroutine
    def weird():
        yield "not a future"

    async def body():
        try:
            await weird()
        except RuntimeError as e:
            return str(e)

    assert "not a future" in await resume(*start(body()))


async def test_sync_firings_run_a_few_at_a_time_in_order() -> None:
    from dfm.runtime._eager import SyncFirings

    loop = asyncio.get_running_loop()
    futures: dict[int, asyncio.Future[int]] = {}
    started: list[int] = []
    done: list[tuple[int, object]] = []

    async def body(frame, values):
        started.append(frame)
        futures[frame] = loop.create_future()
        return await futures[frame]

    firings = SyncFirings(
        lambda state, frame, error: done.append((frame, error)),
        lambda *a: pytest.fail("no fallback expected"),
        lambda e: pytest.fail(f"no failure expected: {e!r}"),
        limit=2,
    )
    import contextvars

    for frame in range(5):
        firings.fire(body, None, frame, [], contextvars.copy_context())
    assert started == [0, 1]  # the others wait as frames
    futures[1].set_result(1)
    await asyncio.sleep(0)
    assert done == [(1, None)] and started == [0, 1, 2]
    futures[0].set_result(0)
    futures[2].set_result(2)
    await asyncio.sleep(0)
    assert started == [0, 1, 2, 3, 4]
    firings.cancel()  # the two under way are cancelled; nothing more is reported
    await asyncio.sleep(0)
    assert [f for f, _ in done] == [1, 0, 2] and futures[3].cancelled()
