"""DaemonThreadPool: calls from an event loop, batched completions, threads on demand."""

from __future__ import annotations

import asyncio
import threading
import weakref

import pytest

from dfm.runtime import DaemonThreadPool


@pytest.fixture
def pool():
    p = DaemonThreadPool(8, "test-pool")
    yield p
    p.shutdown(wait=False, cancel_futures=True)


async def test_results_and_every_exception_reach_the_loop(pool) -> None:
    loop = asyncio.get_running_loop()

    def call(kind):
        if kind == "ok":
            return threading.current_thread().name
        raise {"exit": SystemExit("bye"), "stop": StopIteration("s"), "key": KeyError("k")}[kind]

    name = await pool.run_soon(loop, call, "ok")
    assert name.startswith("test-pool-")
    with pytest.raises(SystemExit):
        await pool.run_soon(loop, call, "exit")
    with pytest.raises(KeyError):
        await pool.run_soon(loop, call, kind="key")
    with pytest.raises(RuntimeError, match="StopIteration"):  # would hang a future otherwise
        await pool.run_soon(loop, call, "stop")


async def test_many_quick_calls_use_few_threads_and_few_wakeups(pool) -> None:
    loop = asyncio.get_running_loop()
    wakeups = 0
    original = loop.call_soon_threadsafe

    def counting(*args, **kwargs):
        nonlocal wakeups
        wakeups += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        calls = [pool.run_soon(loop, lambda i=i: i * 2) for i in range(2000)]
        results = await asyncio.gather(*calls)
    finally:
        del loop.call_soon_threadsafe
    assert results == [i * 2 for i in range(2000)]
    assert wakeups < 1000  # completions come in batches, not one wake-up each
    assert len(pool._threads) <= 4  # a burst of quick calls does not start a thread each


async def test_a_blocked_thread_does_not_hold_up_the_others(pool) -> None:
    loop = asyncio.get_running_loop()
    release = threading.Event()
    blocked = pool.run_soon(loop, release.wait, 10)
    await asyncio.sleep(0.05)
    # The only thread is blocked: the next call gets a thread of its own, soon.
    assert await asyncio.wait_for(pool.run_soon(loop, lambda: "through"), 5) == "through"
    release.set()
    assert await blocked is True


async def test_parallel_blocking_calls_get_threads_up_to_the_limit() -> None:
    loop = asyncio.get_running_loop()
    pool = DaemonThreadPool(4, "p4")
    barrier = threading.Barrier(4, timeout=5)
    try:
        got = await asyncio.wait_for(
            asyncio.gather(*(pool.run_soon(loop, barrier.wait) for _ in range(4))), 10
        )
        assert sorted(got) == [0, 1, 2, 3] and len(pool._threads) == 4
    finally:
        pool.shutdown(wait=False)


async def test_cancelled_futures_are_left_alone_and_shutdown_cancels_queued_work() -> None:
    loop = asyncio.get_running_loop()
    pool = DaemonThreadPool(1, "p1")
    release = threading.Event()
    running = pool.run_soon(loop, release.wait, 10)
    queued = pool.run_soon(loop, lambda: "never")
    await asyncio.sleep(0.01)
    running.cancel()
    pool.shutdown(wait=False, cancel_futures=True)
    await asyncio.sleep(0.05)
    assert queued.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.run_soon(loop, lambda: None)
    release.set()


def test_submit_keeps_the_executor_interface(pool) -> None:
    assert pool.submit(lambda a, b: a + b, 2, b=3).result(5) == 5
    with pytest.raises(SystemExit):
        pool.submit(lambda: (_ for _ in ()).throw(SystemExit("x"))).result(5)


async def test_a_pool_thread_keeps_nothing_of_a_finished_call(pool) -> None:
    """Neither the result nor the error of the last call waits for the next call."""
    loop = asyncio.get_running_loop()

    class Big:
        pass

    class Failed(ValueError):
        pass

    def make(fail):
        if fail:
            raise Failed("failed")  # its traceback holds this frame
        return Big()

    result = weakref.ref(await pool.run_soon(loop, make, False))
    with pytest.raises(Failed) as failed:
        await pool.run_soon(loop, make, True)
    error = weakref.ref(failed.value)
    del failed
    await asyncio.sleep(0.05)  # the thread is past its call
    assert result() is None
    assert error() is None
