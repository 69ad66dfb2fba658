"""Block NetIRs are data too: a hostile string anywhere in one never runs.

The nets here are compiled from real pipelines with every block kind (ForEach with its
scatter and collect, a fused and a standalone If with literals, TryFromCache with a
literal key), so every field the structured NetIR carries is covered. Any string leaf
of them is replaced by a crafted payload; the site's check must refuse it or the module
generated from it (also with the check switched off) must stay inert when imported and
when every fire and condition method runs.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from blocks_kit import compile_pipeline, write_ops
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_netir_hostile import CANARY, PAYLOADS, FakeCtx

from dfm.api import ForEach, Frame, GreaterThan, If, Pipeline, PlaceParam, TryFromCache, Yield
from dfm.irgen import NetIR
from dfm.runtime.codegen import NetIRRefused, _generate, generate_net_source, validate_netir


class Answer(defaultdict[str, int]):
    """An adapter's answer that is also awaitable: fits sync and async calls alike."""

    def __await__(self) -> Any:
        return self
        yield


class AnySite:
    """Answers every adapter call and provider lookup."""

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("call_"):
            return AnySite()
        return lambda **kw: Answer(int, kw)


def run_every_transition(source: str) -> None:
    """Import the module, fire each transition and run each condition once."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<hostile net>", "exec"), namespace)
    cls = namespace["ThisNet"]

    async def run_all() -> None:
        failures: list[BaseException] = []
        net = cls(AnySite(), FakeCtx(), asyncio.get_running_loop(), None, failures.append)
        for spec in cls.TRANSITIONS:
            data = [Answer(int)] * len(spec.inputs)
            try:
                if spec.fire is not None:
                    await getattr(net, spec.fire)(Frame.start_frame(0), data)
                if spec.cond is not None:
                    getattr(net, spec.cond)([5] * len(spec.inputs))
            except Exception:
                pass  # the fake values may not fit every shape; the canary is what counts
        assert not failures

    asyncio.run(run_all())


# Discriminators pick the model class; a hostile one is refused by the model itself.
_SKIP_KEYS = {"dfm_class_name", "kind"}


def _block_nets(root: Path) -> list[dict[str, Any]]:
    ops = write_ops(root)
    with Pipeline() as p:
        numbers = ops.Gen(n=PlaceParam(place="n"), site="s1")
        with ForEach(seq=numbers) as item:
            squared = ops.Square(x=item, site="s2")
            with If(cond=GreaterThan(left=squared, right=3)):  # fused into Square
                Yield(value=squared, place="big")
            with If(cond=GreaterThan(left=item, right=1)):  # a condition of its own
                Yield(value=ops.Echo(x=item, site="s1"), place="late")
        with TryFromCache(key="fixed key") as cached:
            cached.cache(ops.Echo(x="cached value", site="s2"))
        Yield(value=cached, place="cached")
    prepared = compile_pipeline(p, "hostilefed")
    nets = [json.loads(n.model_dump_json()) for n in prepared.net_irs().values()]
    for net in nets:  # recomputed on parsing: a changed net must not fail on it
        del net["fingerprint"]
    return nets


def _leaves(tree: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every string (values and dict keys) outside the discriminators."""
    out: list[tuple[Any, ...]] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in _SKIP_KEYS:
                continue
            out.append((*path, ("key", key)))
            out += _leaves(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out += _leaves(value, (*path, i))
    elif isinstance(tree, str):
        out.append(path)
    return out


def _replace(tree: Any, path: tuple[Any, ...], new: str) -> Any:
    head, *rest = path
    if isinstance(head, tuple):  # a dict key
        return {(new if k == head[1] else k): v for k, v in tree.items()}
    if not rest:
        copy = list(tree) if isinstance(tree, list) else dict(tree)
        copy[head] = new
        return copy
    copy = list(tree) if isinstance(tree, list) else dict(tree)
    copy[head] = _replace(tree[head], tuple(rest), new)
    return copy


@pytest.fixture(scope="module")
def nets(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _block_nets(tmp_path_factory.mktemp("blockops"))


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as m:
        yield m


def test_the_block_nets_cover_every_block_kind_and_are_valid(nets: list[dict[str, Any]]) -> None:
    kinds = {
        t["block"]["kind"] for n in nets for t in n["transitions"] if t.get("block") is not None
    }
    assert {"fan_out", "scatter", "collect", "cond", "cache_lookup", "cache_write"} <= kinds
    assert any(t.get("guard") for n in nets for t in n["transitions"])  # a fused If
    for net in nets:
        netir = NetIR.model_validate(net)
        validate_netir(netir)
        run_every_transition(generate_net_source(netir))


def test_a_newline_in_a_block_field_is_refused_naming_it(nets: list[dict[str, Any]]) -> None:
    tried = 0
    for net in nets:
        for k, t in enumerate(net["transitions"]):
            for field in ("seq", "ack", "lookup"):
                if isinstance((t.get("block") or {}).get(field), str):
                    evil = _replace(net, ("transitions", k, "block", field), f"x\n{CANARY}")
                    with pytest.raises(NetIRRefused, match=rf"transitions\[{k}\]\.block"):
                        validate_netir(NetIR.model_validate(evil))
                    tried += 1
    assert tried >= 2


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), check=st.booleans())
def test_property_no_hostile_string_in_a_block_net_ever_runs(
    nets: list[dict[str, Any]], data: st.DataObject, check: bool, monkeypatch_module: Any
) -> None:
    builtins.__dict__.pop(CANARY, None)
    net = data.draw(st.sampled_from(nets))
    path = data.draw(st.sampled_from(_leaves(net)))
    payload = data.draw(st.sampled_from(PAYLOADS))
    try:
        netir = NetIR.model_validate(_replace(net, path, payload))
    except ValueError:
        return  # the models themselves refused it
    try:
        if check:
            try:
                validate_netir(netir)
            except NetIRRefused as e:
                assert e.field
                return
            source = generate_net_source(netir)
        else:
            with monkeypatch_module.context() as m:
                m.setattr(_generate, "validate_netir", lambda netir: None)
                source = generate_net_source(netir)
    except ValueError:
        return  # the generator refused a shape or a name it could not write safely
    try:
        run_every_transition(source)
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError, IndexError):
        pass  # the fake site may not fit every shape; what matters is the canary
    assert not builtins.__dict__.get(CANARY), f"injected code ran at {path}: {payload!r}"
