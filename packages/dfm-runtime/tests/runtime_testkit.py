"""Helpers of the dfm-runtime tests: hand-built NetIRs and a harness running a job.

(A module, not conftest.py: tests import it; conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from dfm.api import START_PLACE_NAME, STATUS_PLACE_NAME, Frame
from dfm.irgen import (
    AdapterCall,
    FlowValue,
    InPlace,
    NetIR,
    PlaceValue,
    StmtValue,
    StopValue,
    TokenSend,
    Transition,
)
from dfm.runtime import JobController, Router, TokenPackage

# -- NetIR building --------------------------------------------------------------------


def start(name: str) -> InPlace:
    return InPlace(name=name, kind="control", origin="external")


def data_in(name: str, external: bool = False) -> InPlace:
    return InPlace(name=name, kind="data", origin="external" if external else "internal")


def ctl_in(name: str) -> InPlace:
    return InPlace(name=name, kind="control")


def call(
    node: int, adapter: str, *, is_async: bool = True, provider: str | None = None, **params: Any
) -> AdapterCall:
    literal = {k: v for k, v in params.items() if isinstance(v, tuple)}
    refs = {k: v for k, v in params.items() if not isinstance(v, tuple)}
    return AdapterCall(
        stmt_id=f"node{node}",
        node_id=node,
        adapter=adapter,
        provider=provider,
        literal_params=literal,
        stmt_params=refs,
        is_async=is_async,
    )


def yield_of(
    stmt: str, node: int, place: str = "yield", home: str = "app", **sel: Any
) -> TokenSend:
    return TokenSend(
        site=home, place=place, is_yield=True, node_id=node, data=StmtValue(stmt_id=stmt, **sel)
    )


def to_place(site: str, place: str, stmt: str, node: int, **sel: Any) -> TokenSend:
    return TokenSend(site=site, place=place, node_id=node, data=StmtValue(stmt_id=stmt, **sel))


def done_send(status_site: str, site: str, name: str) -> TokenSend:
    return TokenSend(
        site=status_site, place=f"_done_{site}_{name}", kind="control", data=FlowValue()
    )


def status_transition(inputs: list[str], home: str = "app") -> Transition:
    return Transition(
        name="_status_",
        inputs=[ctl_in(p) for p in inputs],
        sends=[
            TokenSend(
                site=home, place=STATUS_PLACE_NAME, kind="control", is_yield=True, data=StopValue()
            )
        ],
    )


def netir(
    fed: str,
    site: str,
    transitions: list[Transition],
    external: dict[str, list[str]],
    home: str = "app",
    api_version: str = "1.0",
) -> NetIR:
    return NetIR(
        site=site,
        homesite=home,
        federation_name=fed,
        pipeline_name="test",
        api_version=api_version,
        transitions=transitions,
        external=external,
    )


def one_op_net(fed: str, adapter: str = "ops.Echo", is_async: bool = True, **params: Any) -> NetIR:
    """``Echo(x=PlaceParam("x"))`` on app, yielded; plus the status transition."""
    params = params or {"x": PlaceValue(place="node0__x")}
    t0 = Transition(
        name="node0",
        node_id=0,
        inputs=[start("node0__start"), data_in("node0__x", external=True)],
        body=[call(0, adapter, is_async=is_async, **params)],
        sends=[yield_of("node0", 0), done_send("app", "app", "node0")],
    )
    return netir(
        fed,
        "app",
        [t0, status_transition(["_done_app_node0"])],
        {START_PLACE_NAME: ["node0__start"], "x": ["node0__x"]},
    )


# -- running ---------------------------------------------------------------------------


@dataclass
class Received:
    site: str
    node: int | str | None
    frame: Frame
    place: str
    value: Any


@dataclass
class WireRouter(Router):
    """Routes through to_wire/from_wire; yields are decoded and collected."""

    harness: Harness
    routed: list[TokenPackage] = field(default_factory=list)

    def route(self, package: TokenPackage) -> None:
        self.routed.append(package)
        wire = package.to_wire()
        back = TokenPackage.from_wire(wire)
        if back.is_yield:
            self.harness.received.append(
                Received(
                    back.source_site,
                    back.source_node,
                    back.frame,
                    back.target_place,
                    back.unwrap(self.harness.policy),
                )
            )
            return
        runner = self.harness.controllers[back.target_site].runner
        asyncio.get_running_loop().call_soon(runner.deliver_package, back)


class Harness:
    """All sites of a job on the running loop, connected by a WireRouter."""

    def __init__(self, nets: dict[str, NetIR], **kwargs: Any) -> None:
        from dfm.api import TRUSTED

        self.policy = kwargs.pop("decode_policy", TRUSTED)
        self.received: list[Received] = []
        self.router = WireRouter(self)
        self.nets = nets
        self.controllers = {
            site: JobController(
                ir, job_id="job1", router=self.router, decode_policy=self.policy, **kwargs
            )
            for site, ir in nets.items()
        }

    def start(self) -> None:
        for c in self.controllers.values():
            c.runner.start()

    def inject(self, frame: Frame, params: dict[str, Any]) -> None:
        for site, ir in self.nets.items():
            [(f, picked)] = ir.pick_input_params([(frame, params)])
            self.controllers[site].runner.inject(f, picked)

    async def run(self, params: list[dict[str, Any]], timeout: float = 10.0) -> list[Received]:
        self.start()
        for i, p in enumerate(params):
            self.inject(Frame.start_frame(i), p)
        self.inject(Frame.stop_frame(), {})
        await asyncio.wait_for(
            asyncio.gather(*(c.runner.done for c in self.controllers.values())), timeout
        )
        # let routed packages still in call_soon land (none should be left)
        await asyncio.sleep(0)
        return self.received

    def on(self, place: str) -> dict[Frame, Any]:
        return {r.frame: r.value for r in self.received if r.place == place}
