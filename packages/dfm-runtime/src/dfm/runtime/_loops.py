"""The one way DFM closes an event loop of its own: cancel, wait (bounded), close."""

from __future__ import annotations

import asyncio


def close_event_loop(loop: asyncio.AbstractEventLoop, timeout: float = 1.0) -> None:
    """Cancel the loop's tasks, let them finish for up to ``timeout`` seconds, close it.

    Unlike ``asyncio.Runner.close`` the wait is bounded: a task that ignores its
    cancellation (an adapter's, a callback's) cannot hang a site's or a job's shutdown.
    Async generators are shut down too. Called on a thread where another loop is
    running (so this one cannot run), it only closes the loop. The loop is closed even
    when the wind-down raises.

    Args:
        loop: A loop that is not running.
        timeout: Seconds the cancelled tasks get to finish.

    Raises:
        Exception: Whatever winding down raised (the loop is closed all the same).
    """
    try:
        if not _in_running_loop():
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
