"""An adapter cannot take its site down: any BaseException ends its frame only.

``sys.exit()``, ``KeyboardInterrupt``, ``GeneratorExit``, custom ``BaseException``
subclasses and ``StopIteration``, raised by sync and async adapters, on a real
SiteThread: the frame gets an ErrorToken naming the exception, the other frames and a
concurrent job finish, the site stays up and runs the next job.
"""

from __future__ import annotations

import pytest
from host_testkit import Hosts
from runtime_testkit import one_op_net

from dfm.api import ErrorToken, Frame, StopToken

SITE = """
class Custom(BaseException):
    pass


def make(x):
    return {
        "exit": SystemExit("an adapter called sys.exit()"),
        "kbd": KeyboardInterrupt("ctrl-c in an adapter"),
        "genexit": GeneratorExit("closing"),
        "custom": Custom("a custom BaseException"),
        "stop": StopIteration("stopped"),
        "value": ValueError("plain"),
    }.get(x)


class ThisSite(Site):
    async def call_ops_Echo(self, x):
        return x

    async def call_ops_Raise(self, x):
        error = make(x)
        if error is not None:
            raise error
        return x

    def call_ops_SyncRaise(self, x):
        error = make(x)
        if error is not None:
            raise error
        return x

    async def call_ops_Stray(self, x):
        async def bomb():
            raise SystemExit("from a task the adapter left alone")

        task = asyncio.get_running_loop().create_task(bomb())
        while not task.done():
            await asyncio.sleep(0.001)
        assert isinstance(task.exception(), SystemExit)  # retrieved: no warning at exit
        return x
"""

KINDS = {
    "exit": "SystemExit",
    "kbd": "KeyboardInterrupt",
    "genexit": "GeneratorExit",
    "custom": "Custom",
    "stop": "RuntimeError",  # StopIteration cannot cross into a coroutine as itself
    "value": "ValueError",
}


@pytest.fixture
def hosts(make_federation):
    fed = make_federation({"app": SITE})
    h = Hosts(["app"])
    h.fed = fed
    yield h
    h.close()


@pytest.mark.parametrize(("adapter", "is_async"), [("ops.Raise", True), ("ops.SyncRaise", False)])
def test_every_base_exception_fails_its_frame_only(hosts, adapter: str, is_async: bool) -> None:
    net = one_op_net(hosts.fed, adapter=adapter, is_async=is_async)
    xs = ["ok", *KINDS, "ok2"]
    hosts.start("other", {"app": one_op_net(hosts.fed)})  # a concurrent job on the site
    values = hosts.run("job1", {"app": net}, [{"x": x} for x in xs])
    for i, x in enumerate(xs):
        got = values[Frame.start_frame(i)]
        if x in KINDS:
            assert isinstance(got, ErrorToken), (x, got)
            [info] = got.errors
            assert info.type == KINDS[x], (x, info)
            if x == "stop":  # PEP 479 for coroutines; the site pool does the same for sync
                assert "StopIteration" in info.message
            assert (info.site, info.node_id) == ("app", 0)
        else:
            assert got == x
    statuses = hosts.statuses("job1")
    assert isinstance(statuses[Frame.stop_frame()], StopToken)
    assert hosts.done["job1"] == {"app": None}
    assert hosts.hosts["app"].alive and not hosts.died
    hosts.feed("other", {"app": one_op_net(hosts.fed)}, [{"x": "still here"}], stop=True)
    assert hosts.wait("other", 10) and hosts.values("other") == {Frame.start_frame(0): "still here"}
    again = hosts.run("next", {"app": one_op_net(hosts.fed)}, [{"x": 1}])
    assert again == {Frame.start_frame(0): 1}


def test_a_stray_task_raising_system_exit_does_not_end_the_site(hosts, caplog) -> None:
    values = hosts.run("job", {"app": one_op_net(hosts.fed, adapter="ops.Stray")}, [{"x": 7}])
    assert values == {Frame.start_frame(0): 7}
    assert hosts.hosts["app"].alive and not hosts.died
    assert "escaped to the event loop" in caplog.text
    again = hosts.run("next", {"app": one_op_net(hosts.fed)}, [{"x": 1}])
    assert again == {Frame.start_frame(0): 1}
