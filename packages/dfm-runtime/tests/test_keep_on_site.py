"""keep-on-site on the site itself: a NetIR that would send a kept value away is refused."""

from __future__ import annotations

import pytest
from runtime_testkit import call, data_in, netir, start, to_place, yield_of

from dfm.irgen import PlaceValue, StmtValue, TokenSend, Transition
from dfm.runtime import JobController, Router, TokenPackage
from dfm.runtime._keep import check_keep_on_site
from dfm.runtime.codegen import NetIRRefused

SITE = """
class ThisSite(Site):
    async def call_ops_Load(self, **kw):
        return {"rows": [1, 2, 3]}

    async def call_ops_Count(self, rows=None):
        return len(rows["rows"])

    class vault(Provider):
        async def call_ops_Load(self, **kw):
            return "secret"
"""
KEEP = frozenset({"ops.Load"})


def loader(*sends: TokenSend, provider: str | None = None, extra=()) -> Transition:
    return Transition(
        name="node0",
        node_id=0,
        inputs=[start("node0__start")],
        body=[call(0, "ops.Load", provider=provider), *extra],
        sends=list(sends),
    )


def site_net(*transitions: Transition, site: str = "hospital", home: str = "hospital"):
    return netir("fed", site, list(transitions), {"__start_place__": ["node0__start"]}, home=home)


def refused(net, keep=KEEP) -> str:
    with pytest.raises(NetIRRefused) as info:
        check_keep_on_site(net, keep)
    return str(info.value)


def test_sending_a_kept_result_to_another_site_is_refused() -> None:
    message = refused(site_net(loader(to_place("lab", "node1__rows", "node0", 0))))
    assert message.startswith("Site 'hospital' refuses the NetIR: transition 'node0':")
    assert "operation 'ops.Load'" in message and "place 'node1__rows' on site 'lab'" in message


def test_a_part_of_a_kept_result_is_kept_too() -> None:
    net = site_net(loader(to_place("lab", "node1__rows", "node0", 0, sel="rows")))
    assert "'ops.Load'" in refused(net)


def test_yield_to_an_application_elsewhere_is_refused_here_it_is_fine() -> None:
    away = site_net(loader(yield_of("node0", 0, home="home")), home="home")
    assert "the application on site 'home'" in refused(away)
    check_keep_on_site(site_net(loader(yield_of("node0", 0, home="hospital"))), KEEP)


def test_a_kept_value_forwarded_through_a_place_of_this_site_is_still_kept() -> None:
    forward = Transition(
        name="fwd",
        inputs=[data_in("fwd__in")],
        sends=[TokenSend(site="lab", place="node9__x", data=PlaceValue(place="fwd__in"))],
    )
    net = site_net(loader(to_place("hospital", "fwd__in", "node0", 0)), forward)
    assert "transition 'fwd'" in refused(net) and "site 'lab'" in refused(net)


def test_a_value_computed_from_a_kept_one_may_leave() -> None:
    count = call(1, "ops.Count", rows=StmtValue(stmt_id="node0"))
    send = TokenSend(site="lab", place="node2__n", node_id=1, data=StmtValue(stmt_id="node1"))
    check_keep_on_site(site_net(loader(send, extra=[count])), KEEP)


def test_provider_operations_are_named_provider_colon_operation() -> None:
    net = site_net(loader(to_place("lab", "p", "node0", 0), provider="vault"))
    check_keep_on_site(net, KEEP)  # the site's ops.Load is kept, not vault's
    assert "'vault:ops.Load'" in refused(net, frozenset({"vault:ops.Load"}))


def test_the_site_refuses_it_before_running_anything(make_federation) -> None:
    fed = make_federation({"hospital": SITE + "\nKEEP_ON_SITE = frozenset({'ops.Load'})\n"})
    net = netir(
        fed,
        "hospital",
        [loader(to_place("lab", "node1__rows", "node0", 0))],
        {"__start_place__": ["node0__start"]},
        home="hospital",
    )

    class NoRouter(Router):
        def route(self, package: TokenPackage) -> None:
            raise AssertionError("nothing may run")

    with pytest.raises(NetIRRefused, match="kept on site 'hospital'.*site 'lab'"):
        JobController(net, job_id="j", router=NoRouter())


def test_elements_of_a_kept_sequence_cannot_leave_through_a_for_each(tmp_path) -> None:
    """A crafted net: the compiler never builds it, the site must still refuse it."""
    from blocks_kit import compile_pipeline, write_ops

    from dfm.api import ForEach, Pipeline, Yield

    ops = write_ops(tmp_path)
    with Pipeline() as p:
        with ForEach(seq=ops.Gen(n=3, site="s1")) as item:
            Yield(value=ops.Square(x=item, site="s2"))
    nets = compile_pipeline(p, "keepfed").net_irs()
    check_keep_on_site(nets["s1"], frozenset())  # nothing kept: fine
    with pytest.raises(NetIRRefused, match=r"'ops.Gen' is kept on site 's1'.*site 's2'"):
        check_keep_on_site(nets["s1"], frozenset({"ops.Gen"}))
