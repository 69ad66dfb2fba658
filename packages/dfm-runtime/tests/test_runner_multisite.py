"""Jobs across sites: tokens through to_wire/from_wire, stop propagation, the status leader."""

from __future__ import annotations

import asyncio
import threading

from runtime_testkit import (
    Harness,
    call,
    data_in,
    done_send,
    netir,
    start,
    status_transition,
    to_place,
    yield_of,
)

from dfm.api import START_PLACE_NAME, STATUS_PLACE_NAME, ErrorToken, Frame, StopToken
from dfm.irgen import PlaceValue, Transition
from dfm.runtime import JobController, Router, TokenPackage

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, **kw):
        return kw.get("x")

    async def call_ops_Concat(self, a, b):
        return f"{a}{b}"

    async def call_ops_Slow(self, x):
        await asyncio.sleep(0.05)
        return x
"""

F0, F1 = Frame.start_frame(0), Frame.start_frame(1)
STOP = Frame.stop_frame()


def chain(fed: str, first: str = "ops.Echo"):
    """s1: node0 = first(x=PlaceParam x) → app: node1 = Concat(a=node0["where"], b=PlaceParam b)."""
    s1 = netir(
        fed,
        "s1",
        [
            Transition(
                name="node0",
                node_id=0,
                inputs=[start("node0__start"), data_in("node0__x", True)],
                body=[call(0, first, x=PlaceValue(place="node0__x"))],
                sends=[
                    to_place("app", "node1__a", "node0", 0, sel="where"),
                    yield_of("node0", 0, place="mid"),
                ],
            )
        ],
        {START_PLACE_NAME: ["node0__start"], "x": ["node0__x"]},
    )
    app = netir(
        fed,
        "app",
        [
            Transition(
                name="node1",
                node_id=1,
                inputs=[data_in("node1__a"), data_in("node1__b", True)],
                body=[
                    call(
                        1,
                        "ops.Concat",
                        a=PlaceValue(place="node1__a"),
                        b=PlaceValue(place="node1__b"),
                    )
                ],
                sends=[yield_of("node1", 1), done_send("app", "app", "node1")],
            ),
            status_transition(["_done_app_node1"]),
        ],
        {"b": ["node1__b"]},
    )
    return {"s1": s1, "app": app}


async def test_chain_across_two_sites(make_federation) -> None:
    fed = make_federation({"app": SITE, "s1": SITE})
    h = Harness(chain(fed))
    await h.run([{"x": {"where": "here"}, "b": "!"}, {"x": {"where": "there"}, "b": "?"}])
    assert h.on("yield") == {F0: "here!", F1: "there?"}
    assert h.on("mid") == {F0: {"where": "here"}, F1: {"where": "there"}}
    assert {r.site for r in h.received if r.place == "mid"} == {"s1"}
    assert h.on(STATUS_PLACE_NAME) == {F0: StopToken(), F1: StopToken(), STOP: StopToken()}
    # stop went s1 → app as a control token on the data edge, never to a yield but status
    stops = [p for p in h.router.routed if p.frame == STOP]
    assert [(p.source_site, p.target_site, p.target_place, p.is_yield) for p in stops] == [
        ("s1", "app", "node1__a", False),
        ("app", "app", STATUS_PLACE_NAME, True),
    ]
    assert h.received[-1].frame == STOP


async def test_selection_error_crosses_sites(make_federation) -> None:
    fed = make_federation({"app": SITE, "s1": SITE})
    h = Harness(chain(fed))
    await h.run([{"x": {"elsewhere": 1}, "b": "!"}, {"x": {"where": "w"}, "b": "!"}])
    err = h.on("yield")[F0]
    assert isinstance(err, ErrorToken)
    [info] = err.errors
    assert info.type == "SelectionError" and info.site == "s1" and info.node_id == 0
    assert h.on("yield")[F1] == "w!"
    assert h.on(STATUS_PLACE_NAME)[F0] == err
    assert h.on("mid")[F0] == {"elsewhere": 1}


async def test_stop_waits_for_running_firings(make_federation) -> None:
    fed = make_federation({"app": SITE, "s1": SITE})
    h = Harness(chain(fed, first="ops.Slow"))
    await h.run([{"x": {"where": i}, "b": "."} for i in range(5)])
    assert h.on("yield") == {Frame.start_frame(i): f"{i}." for i in range(5)}
    assert h.received[-1].frame == STOP and h.received[-1].place == STATUS_PLACE_NAME
    assert sum(1 for r in h.received if r.frame == STOP) == 1


async def test_status_leader_on_another_site(make_federation) -> None:
    """A sink on s1 reports to the status transition on app via a control token."""
    fed = make_federation({"app": SITE, "s1": SITE})
    s1 = netir(
        fed,
        "s1",
        [
            Transition(
                name="node0",
                node_id=0,
                inputs=[start("st"), data_in("x", True)],
                body=[call(0, "ops.Echo", x=PlaceValue(place="x"))],
                sends=[yield_of("node0", 0), done_send("app", "s1", "node0")],
            )
        ],
        {START_PLACE_NAME: ["st"], "x": ["x"]},
    )
    app = netir(fed, "app", [status_transition(["_done_s1_node0"])], {})
    h = Harness({"s1": s1, "app": app})
    await h.run([{"x": 1}, {"x": 2}])
    assert h.on("yield") == {F0: 1, F1: 2}
    assert h.on(STATUS_PLACE_NAME) == {F0: StopToken(), F1: StopToken(), STOP: StopToken()}
    assert {r.site for r in h.received if r.place == STATUS_PLACE_NAME} == {"app"}


async def test_two_sites_on_two_loops_in_two_threads(make_federation) -> None:
    fed = make_federation({"app": SITE, "s1": SITE})
    nets = chain(fed)
    received: list[TokenPackage] = []
    controllers: dict[str, JobController] = {}
    ready = {site: threading.Event() for site in nets}
    loops: dict[str, asyncio.AbstractEventLoop] = {}

    class ThreadRouter(Router):
        def route(self, package: TokenPackage) -> None:
            back = TokenPackage.from_wire(package.to_wire())
            if back.is_yield:
                received.append(back)
            else:
                runner = controllers[back.target_site].runner
                runner.post_threadsafe(runner.deliver_package, back)

    def site_thread(site: str) -> None:
        async def main() -> None:
            loops[site] = asyncio.get_running_loop()
            controllers[site] = JobController(nets[site], job_id="j", router=ThreadRouter())
            controllers[site].runner.start()
            ready[site].set()
            await controllers[site].runner.done

        asyncio.run(main())

    threads = [threading.Thread(target=site_thread, args=(s,)) for s in nets]
    for t in threads:
        t.start()
    for event in ready.values():
        assert event.wait(10)
    params = [{"x": {"where": i}, "b": "+"} for i in range(50)]
    for site, ir in nets.items():
        picked = ir.pick_input_params(
            [(Frame.start_frame(i), p) for i, p in enumerate(params)] + [(STOP, {})]
        )
        runner = controllers[site].runner
        for frame, inputs in picked:
            runner.post_threadsafe(runner.inject, frame, inputs)
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    yields = {
        p.frame: p.unwrap(controllers["app"].ctx.decode_policy)
        for p in received
        if p.target_place == "yield"
    }
    assert yields == {Frame.start_frame(i): f"{i}+" for i in range(50)}
    assert received[-1].frame == STOP
