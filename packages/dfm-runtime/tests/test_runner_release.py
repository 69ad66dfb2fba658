"""A finished job leaves nothing for the garbage collector on its site.

The runner, its net, its firings and its context refer to each other through bound
methods; a site that let go of a finished runner without breaking those links would
leave a cycle of some forty objects per job, which only the collector's passes free
(about a tenth of a warm job's CPU). Here, with the collector off, every runner of a
run of jobs (ok, failing, sync and async adapters) must be freed by reference counting.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest
from host_testkit import Hosts
from runtime_testkit import one_op_net

from dfm.api import ErrorToken, Frame
from dfm.runtime import NetRunner

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, x):
        if x == "fail":
            raise ValueError("asked to fail")
        return x

    def call_ops_SyncEcho(self, x):
        if x == "fail":
            raise ValueError("asked to fail")
        return x
"""


@pytest.fixture
def hosts(make_federation) -> Iterator[Hosts]:
    h = Hosts(["app"])
    h.fed = make_federation({"app": SITE})
    yield h
    h.close()


def _live_runners() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, NetRunner))


def test_finished_runners_are_freed_without_the_garbage_collector(hosts) -> None:
    nets = [
        one_op_net(hosts.fed),
        one_op_net(hosts.fed, adapter="ops.SyncEcho", is_async=False),
    ]
    hosts.run("warm", {"app": nets[0]}, [{"x": 0}])
    gc.collect()
    gc.disable()
    try:
        for i in range(20):
            values = hosts.run(f"job{i}", {"app": nets[i % 2]}, [{"x": i}, {"x": "fail"}])
            assert values[Frame.start_frame(0)] == i
            assert isinstance(values[Frame.start_frame(1)], ErrorToken)
        deadline = time.monotonic() + 5  # the site releases a runner just after it reports
        while _live_runners() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _live_runners() == 0
    finally:
        gc.enable()
