"""close_event_loop: the one shutdown of DFM's own event loops (sites, callback runners)."""

from __future__ import annotations

import asyncio

from dfm.runtime import close_event_loop


def test_cancels_tasks_shuts_down_generators_and_closes() -> None:
    loop = asyncio.new_event_loop()
    seen: list[str] = []
    suspended: list[object] = []  # a reference, so only the shutdown can close it

    async def sleeper() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def numbers():  # type: ignore[no-untyped-def]
        try:
            yield 1
            yield 2
        finally:
            seen.append("generator closed")

    async def start() -> None:
        loop.create_task(sleeper())
        gen = numbers()
        suspended.append(gen)
        await gen.__anext__()  # left suspended: shutdown_asyncgens must close it
        await asyncio.sleep(0)

    loop.run_until_complete(start())
    assert seen == []
    close_event_loop(loop)
    assert loop.is_closed()
    assert seen == ["cancelled", "generator closed"]


def test_a_task_that_ignores_cancellation_does_not_hang_the_close() -> None:
    loop = asyncio.new_event_loop()
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # refuses to stop

    task = loop.create_task(stubborn())
    loop.run_until_complete(asyncio.sleep(0))
    close_event_loop(loop, timeout=0.01)  # returns although the task is still pending
    assert loop.is_closed() and not task.done()


def test_inside_a_running_loop_it_only_closes() -> None:
    other = asyncio.new_event_loop()

    async def main() -> None:
        close_event_loop(other)

    asyncio.run(main())
    assert other.is_closed()
