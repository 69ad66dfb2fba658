"""load_net_module: in-process cache, disk cache under XDG_CACHE_HOME, force, fallbacks."""

from __future__ import annotations

import linecache
import logging
import os
import sys
from pathlib import Path

import pytest

from dfm.irgen import AdapterCall, InPlace, NetIR, PlaceValue, StmtValue, TokenSend, Transition
from dfm.runtime.codegen import _load, load_net_module, net_module_name, net_module_path

STUB = """
class Net:
    pass


class TransitionSpec:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class SendSpec:
    def __init__(self, *a, **kw):
        pass


FLOW = STOP_TOKEN = FlowInfo = BlockSpec = PLAIN_TYPES = is_stream = None


def DecodePolicy(**kw):
    return kw


def decode_literal(tagged, policy, where):
    return tagged[1]


def select(value, sel, issubs=None):
    return value[sel]


def done_value(errors):
    return errors
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Cache in tmp; generated modules import a stub runtime; caches emptied after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "stub_net_runtime.py").write_text(STUB)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_load, "RUNTIME", "stub_net_runtime")
    monkeypatch.setattr(_load, "_modules", {})
    yield
    for name in [m for m in sys.modules if m.startswith("dfm_v") or m == "stub_net_runtime"]:
        del sys.modules[name]


def make_ir(tag: str = "a", site: str = "s1") -> NetIR:
    return NetIR(
        site=site,
        homesite="app",
        federation_name="fed",
        pipeline_name=tag,
        transitions=[
            Transition(
                name="node0",
                node_id=0,
                inputs=[InPlace(name="x", kind="data", origin="external")],
                body=[
                    AdapterCall(
                        stmt_id="node0",
                        node_id=0,
                        adapter="ops.Fail",
                        stmt_params={"x": PlaceValue(place="x")},
                    )
                ],
                sends=[
                    TokenSend(
                        site="app", place="out", is_yield=True, data=StmtValue(stmt_id="node0")
                    )
                ],
            )
        ],
        external={"x": ["x"]},
    )


def test_module_name_and_cache_path(tmp_path: Path) -> None:
    ir = make_ir()
    name = net_module_name(ir)
    assert name == f"dfm_v{_load.VERSION_TAG}_netir_{ir.fingerprint}"
    assert "." not in _load.VERSION_TAG
    assert net_module_path(ir, "myfed") == (
        tmp_path
        / "xdg"
        / "dfm"
        / "modgen-cache"
        / _load.VERSION_TAG
        / "myfed"
        / "s1"
        / f"{name}.py"
    )


def test_cached_in_process_and_on_disk(tmp_path: Path) -> None:
    ir = make_ir()
    module = load_net_module(ir, "myfed")
    path = net_module_path(ir, "myfed")
    assert path.is_file() and module.__file__ == str(path)
    assert sys.modules[net_module_name(ir)] is module
    assert module.ThisNet.FINGERPRINT == ir.fingerprint
    assert load_net_module(ir, "myfed") is module
    # a new process (empty in-process cache) reuses the file as it is
    mtime = path.stat().st_mtime_ns
    _load._modules.clear()
    again = load_net_module(ir, "myfed")
    assert again is not module and path.stat().st_mtime_ns == mtime
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".tmp"] == []


def test_stale_file_is_rewritten_and_force_regenerates() -> None:
    ir = make_ir()
    path = net_module_path(ir, "fed")
    path.parent.mkdir(parents=True)
    path.write_text("broken = (")
    module = load_net_module(ir, "fed")
    assert hasattr(module, "ThisNet") and "broken" not in path.read_text()
    forced = load_net_module(ir, "fed", force=True)
    assert forced is not module and sys.modules[net_module_name(ir)] is forced
    assert load_net_module(ir, "fed") is forced


def test_generated_code_shows_in_tracebacks() -> None:
    module = load_net_module(make_ir(), "fed")
    source = Path(module.__file__).read_text()
    assert "call_ops_Fail" in source
    lineno = next(i for i, s in enumerate(source.splitlines(), 1) if "call_ops_Fail(" in s)
    assert "call_ops_Fail" in linecache.getline(module.__file__, lineno)


def test_unwritable_cache_falls_back_to_memory(tmp_path: Path, monkeypatch, caplog) -> None:
    blocker = tmp_path / "xdg"
    blocker.write_text("a file where the cache directory should be")
    ir = make_ir("mem")
    with caplog.at_level(logging.WARNING):
        module = load_net_module(ir, "fed")
    assert "Cannot write the net module cache" in caplog.text
    assert module.ThisNet.FINGERPRINT == ir.fingerprint
    assert "call_ops_Fail" in "".join(linecache.getlines(module.__file__))


def test_different_netirs_get_different_modules() -> None:
    a, b = make_ir("a"), make_ir("b")
    assert load_net_module(a, "fed") is not load_net_module(b, "fed")
    assert os.path.dirname(net_module_path(a, "fed")) == os.path.dirname(net_module_path(b, "fed"))


def test_unsafe_names_stay_inside_the_cache(tmp_path: Path) -> None:
    path = net_module_path(make_ir(site="../../evil"), "../up")
    assert path.resolve().is_relative_to((tmp_path / "xdg").resolve())
