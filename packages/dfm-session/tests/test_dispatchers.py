from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from dfm.api import Frame
from dfm.session import (
    AsyncioDispatcher,
    Delivery,
    DirectDispatcher,
    ManualDispatcher,
    ThreadDispatcher,
    call_callbacks,
    callbacks_kind,
)

F0 = Frame([0])


def tokens(n: int, place: str = "yield") -> list[Delivery]:
    return [Delivery("s", i, Frame([i]), place, i) for i in range(n)]


def sync_cb(*args: Any) -> None:
    pass


async def async_cb(*args: Any) -> None:
    pass


class AsyncCallable:
    async def __call__(self, *args: Any) -> None:
        pass


def test_callbacks_kind() -> None:
    assert callbacks_kind(None, None) == "none"
    assert callbacks_kind(None, {}) == "none"
    assert callbacks_kind(sync_cb, None) == "sync"
    assert callbacks_kind(None, {"p": sync_cb}) == "sync"
    assert callbacks_kind(async_cb, {"p": async_cb}) == "async"
    assert callbacks_kind(AsyncCallable(), None) == "async"
    with pytest.raises(ValueError, match="mix"):
        callbacks_kind(sync_cb, {"p": async_cb})


def test_call_callbacks_routes_and_continues_after_errors() -> None:
    got: list[tuple[str, Any]] = []
    errors: list[BaseException] = []

    def default(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        if data == 1:
            raise KeyError("x")
        got.append(("default", data))

    def special(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        got.append(("special", data))

    toks = [*tokens(3), Delivery("s", None, F0, "other", "o")]
    call_callbacks(default, {"other": special}, toks, lambda e, t: errors.append(e))
    assert got == [("default", 0), ("default", 2), ("special", "o")]
    assert len(errors) == 1
    call_callbacks(None, {"other": special}, Delivery("s", None, F0, "yield", 9))  # dropped
    call_callbacks(default, None, None)
    assert len(got) == 3


def test_direct_runner_runs_inline() -> None:
    threads: list[threading.Thread] = []
    runner = DirectDispatcher().create_runner(
        lambda *a: threads.append(threading.current_thread()), None
    )
    runner.dispatch(tokens(2))
    assert threads == [threading.current_thread()] * 2
    assert runner.wait_idle(0)
    with pytest.raises(ValueError, match="mix"):
        DirectDispatcher().create_runner(sync_cb, {"p": async_cb})


def test_direct_runner_runs_async_callbacks_inline_in_order() -> None:
    seen: list[tuple[int, str]] = []
    loops: set[asyncio.AbstractEventLoop] = set()

    async def cb(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        await asyncio.sleep(0.001 if data % 2 else 0)  # the odd ones would finish last
        loops.add(asyncio.get_running_loop())
        if data == 3:
            raise RuntimeError("nope")
        seen.append((data, threading.current_thread().name))

    runner = DirectDispatcher().create_runner(cb, None)
    assert runner.kind == "async"
    feeder = threading.Thread(
        target=lambda: [runner.dispatch(tokens(10)[i : i + 5]) for i in (0, 5)], name="feeder"
    )
    feeder.start()
    feeder.join(10)
    assert seen == [(i, "feeder") for i in range(10) if i != 3]
    assert [str(e) for e in runner.errors] == ["nope"]
    (loop,) = loops  # one private loop for all of the runner's batches
    assert not loop.is_running() and not loop.is_closed()
    runner.close()
    assert loop.is_closed()
    runner.dispatch(tokens(1))  # after close: dropped with a warning, never raises
    assert len(seen) == 9


def test_direct_runner_close_cancels_leftover_tasks() -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def cb(*args: Any) -> None:
        asyncio.get_running_loop().create_task(forever())

    runner = DirectDispatcher().create_runner(cb, None)
    runner.dispatch(tokens(1))
    runner.close()
    assert cancelled.is_set()
    DirectDispatcher().create_runner(sync_cb, None).close()  # nothing to close: fine


def test_thread_dispatcher_sync_in_order_on_its_thread() -> None:
    dispatcher = ThreadDispatcher()
    seen: list[tuple[int, str]] = []

    def cb(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        seen.append((data, threading.current_thread().name))

    runner = dispatcher.create_runner(cb, None)
    for chunk in range(5):
        runner.dispatch([Delivery("s", None, F0, "yield", chunk * 1000 + i) for i in range(1000)])
    assert runner.wait_idle(5)
    assert [d for d, _ in seen] == [c * 1000 + i for c in range(5) for i in range(1000)]
    assert {name for _, name in seen} == {"dfm-callbacks"}
    dispatcher.close()


def test_thread_dispatcher_async_callbacks_and_errors() -> None:
    dispatcher = ThreadDispatcher()
    seen: list[int] = []

    async def cb(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        await asyncio.sleep(0)
        if data == 2:
            raise RuntimeError("nope")
        seen.append(data)

    runner = dispatcher.create_runner(cb, None)
    runner.dispatch(tokens(5))
    assert runner.wait_idle(5)
    assert seen == [0, 1, 3, 4]
    assert [str(e) for e in runner.errors] == ["nope"]
    dispatcher.close()


def test_manual_dispatcher() -> None:
    seen: list[int] = []
    runner = ManualDispatcher().create_runner(lambda *a: seen.append(a[4]), None)
    runner.dispatch(tokens(3))
    assert seen == [] and runner.has_pending()
    assert runner.process_pending() == 3
    assert seen == [0, 1, 2] and not runner.has_pending()
    with pytest.raises(ValueError, match="process_pending_async"):
        ManualDispatcher().create_runner(async_cb, None).process_pending()


def test_manual_dispatcher_async() -> None:
    seen: list[int] = []

    async def cb(*args: Any) -> None:
        seen.append(args[4])

    runner = ManualDispatcher().create_runner(cb, None)
    runner.dispatch(tokens(2))
    assert asyncio.run(runner.process_pending_async()) == 2
    assert seen == [0, 1]
    sync_runner = ManualDispatcher().create_runner(sync_cb, None)
    with pytest.raises(ValueError, match="process_pending"):
        asyncio.run(sync_runner.process_pending_async())


def test_asyncio_dispatcher_runs_on_the_loop_in_order() -> None:
    seen: list[int] = []

    async def cb(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        await asyncio.sleep(0.001 if data % 2 else 0)
        seen.append(data)

    async def main() -> None:
        runner = AsyncioDispatcher().create_runner(cb, None)
        feeder = threading.Thread(target=runner.dispatch, args=(tokens(10),))
        feeder.start()
        await asyncio.to_thread(feeder.join)
        assert await asyncio.to_thread(runner.wait_idle, 5)
        assert runner.wait_idle(0)  # on the loop thread: never blocks

    asyncio.run(main())
    assert seen == list(range(10))


def test_asyncio_dispatcher_needs_a_loop() -> None:
    with pytest.raises(ValueError, match="event loop"):
        AsyncioDispatcher().create_runner(async_cb, None)
    loop = asyncio.new_event_loop()
    try:
        runner = AsyncioDispatcher(loop).create_runner(async_cb, None)
        assert runner.kind == "async"
    finally:
        loop.close()
    runner.dispatch(tokens(1))  # closed loop: dropped with a warning, never raises
