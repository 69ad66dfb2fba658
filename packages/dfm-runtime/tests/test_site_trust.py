"""Each site decodes what it receives under its own policy, restrictive by default.

The policy comes from the site's runtime package (``ALLOW_PICKLE``, ``ALLOW_MODULES``;
``dfm gen`` writes them from the site's ``allow-pickle``/``allow-modules``). A pickled
or foreign-model literal, parameter or package is refused (never unpickled, never
imported) unless the site allows it, with the site and the rule named.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import pickle
import sys

import pytest
from host_testkit import Hosts
from runtime_testkit import Harness, one_op_net

from dfm.api import DecodePolicy, Frame, encode_value
from dfm.runtime import (
    JobController,
    Router,
    TokenPackage,
    decode_params,
    site_decode_policy,
    site_trust,
)

SITE = """
class ThisSite(Site):
    async def call_ops_Echo(self, **kw):
        return kw.get("x")
"""
CANARY = "DFM_PICKLE_CANARY"


class Boom:
    """Unpickling this runs code: it sets the canary."""

    def __reduce__(self):
        return (exec, (f"import builtins; builtins.{CANARY} = True",))


PICKLED = ("pickle", base64.b64encode(pickle.dumps(Boom())).decode("ascii"))


class NullRouter(Router):
    def route(self, package: TokenPackage) -> None:
        pass


@pytest.fixture(autouse=True)
def canary():
    builtins.__dict__.pop(CANARY, None)
    yield
    builtins.__dict__.pop(CANARY, None)


def test_defaults_are_restrictive(make_federation) -> None:
    fed = make_federation({"app": SITE})
    trust = site_trust(fed, "app")
    assert trust.policy == DecodePolicy() and not trust.policy.allow_pickle
    assert trust.keep_on_site == frozenset()


def test_settings_come_from_the_site_package(make_federation) -> None:
    fed = make_federation(
        {
            "app": SITE + "\nALLOW_PICKLE = True\nKEEP_ON_SITE = frozenset({'ops.Echo'})\n",
            "b": SITE,
        }
    )
    assert site_decode_policy(fed, "app").allow_pickle is True
    assert site_trust(fed, "app").keep_on_site == frozenset({"ops.Echo"})
    assert site_decode_policy(fed, "b").allow_pickle is False


def test_wrong_setting_types_are_refused(make_federation) -> None:
    fed = make_federation({"app": SITE + "\nALLOW_PICKLE = 'yes'\n"})
    with pytest.raises(ValueError, match="ALLOW_PICKLE must be a bool"):
        site_trust(fed, "app")


def test_regression_pickled_literal_is_not_unpickled(make_federation) -> None:
    fed = make_federation({"app": SITE})
    net = one_op_net(fed, x=PICKLED)
    with pytest.raises(ValueError) as info:
        JobController(net, job_id="j", router=NullRouter())
    message = str(info.value)
    assert message.startswith("Site 'app' refuses the literal of transition 'node0', node 0")
    assert "parameter 'x'" in message and "does not allow pickled data" in message
    assert not hasattr(builtins, CANARY)


def test_pickled_literal_runs_where_the_site_allows_pickle(make_federation) -> None:
    fed = make_federation({"app": SITE + "\nALLOW_PICKLE = True\n"})
    value = ("pickle", base64.b64encode(pickle.dumps({1, 2})).decode("ascii"))
    h = Harness({"app": one_op_net(fed, x=value)}, decode_policy=None)  # the site's own
    h.policy = DecodePolicy(allow_pickle=True)  # how the test's "application" decodes
    asyncio.run(h.run([{"x": "the literal wins"}]))
    assert h.on("yield") == {Frame.start_frame(0): {1, 2}}


def test_model_literal_outside_the_allowed_modules_is_not_imported(
    make_federation, tmp_path, monkeypatch
) -> None:
    (tmp_path / "evil_models_x.py").write_text(
        f"import builtins\nbuiltins.{CANARY} = True\nfrom pydantic import BaseModel\n"
        "class M(BaseModel):\n    a: int = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fed = make_federation({"app": SITE})
    literal = ("model", {"class": "evil_models_x.M", "data": {"a": 1}})
    with pytest.raises(ValueError, match="Site 'app' refuses the literal .*'evil_models_x.M'"):
        JobController(one_op_net(fed, x=literal), job_id="j", router=NullRouter())
    assert "evil_models_x" not in sys.modules and not hasattr(builtins, CANARY)


def test_pickled_parameter_is_an_error_token_naming_site_and_parameter() -> None:
    decoded = decode_params({"x": PICKLED, "y": ("json", 1)}, DecodePolicy(), "s1")
    assert decoded["y"] == 1
    [info] = decoded["x"].errors
    assert info.site == "s1" and info.type == "SerializationError"
    assert info.message.startswith("Site 's1' refuses parameter 'x': Refusing to unpickle")
    assert not hasattr(builtins, CANARY)


def test_pickled_parameter_and_package_on_a_site_host(make_federation) -> None:
    fed = make_federation({"app": SITE, "b": SITE})
    hosts = Hosts(["app"])
    try:
        net = one_op_net(fed)
        hosts.start("j", {"app": net})
        hosts.hosts["app"].inject("j", [(Frame.start_frame(0), {"x": PICKLED})])
        package = TokenPackage("j", "b", 3, "app", "node0__x", False, Frame.start_frame(1), PICKLED)
        hosts.hosts["app"].inject("j", [(Frame.start_frame(1), {})])  # x comes from site b
        hosts.hosts["app"].deliver(package.to_wire())
        hosts.feed("j", {"app": net}, [], stop=True)
        assert hosts.wait("j", 10)
        values = hosts.values("j")
        assert "Site 'app' refuses parameter 'x'" in values[Frame.start_frame(0)].errors[0].message
        message = values[Frame.start_frame(1)].errors[0].message
        assert "Site 'app' received a refused value from site 'b'" in message
    finally:
        hosts.close()
    assert not hasattr(builtins, CANARY)


def test_refused_package_names_the_site_and_the_rule(make_federation) -> None:
    fed = make_federation({"app": SITE})
    controller = JobController(one_op_net(fed), job_id="j", router=NullRouter())
    assert controller.ctx.decode_policy == DecodePolicy()
    received = []
    controller.runner.deliver = lambda place, frame, value: received.append(value)
    package = TokenPackage("j", "b", 3, "app", "node0__x", False, Frame.start_frame(0), PICKLED)
    controller.runner.deliver_package(package)
    [info] = received[0].errors
    assert info.site == "app" and "refused value from site 'b'" in info.message
    assert "does not allow pickled data" in info.message
    assert not hasattr(builtins, CANARY)


def test_plain_values_pass_every_policy() -> None:
    for value in (1, "x", [1, (2, 3)], {1: b"b"}, float("nan")):
        [got] = decode_params({"v": encode_value(value)}, DecodePolicy(), "s").values()
        assert got == value or got != got
