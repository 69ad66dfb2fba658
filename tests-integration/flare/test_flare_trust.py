"""Every FLARE site is a trust boundary: it decodes under its own policy, checks NetIRs.

The POC's ``server`` site allows pickle (its config says ``allow-pickle: true``), ``north``
does not (the default). Values only pickle carries (sets) reach each of them as a
literal of the NetIR, as a parameter and as a token from the other one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.api import ErrorToken, Frame, Pipeline, PlaceParam, Yield

pytestmark = pytest.mark.flare

PICKLE_RULE = "does not allow pickled data"


@pytest.fixture(scope="module")
def session(flare_federation: Any) -> Iterator[Any]:
    from dfm.session import Session

    with Session("meteo", "app", target="flare", workspace=str(flare_federation.workspace)) as s:
        yield s


def run(session: Any, pipeline: Pipeline, params: Any = None) -> tuple[Any, dict[Frame, Any]]:
    """Run to the end (one frame unless ``params``); the job and its ``out`` values by frame."""
    got: dict[Frame, Any] = {}
    lock = threading.Lock()

    def collect(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        if place == "out":
            with lock:
                got[frame] = data

    prepared = session.prepare(pipeline)
    job = session.execute(prepared, {} if params is None else params, default_callback=collect)
    assert job.wait_until_finished(timeout=60), job.job_id
    return job, got


def refused_at_start(session: Any, prepared: Any, *needles: str) -> str:
    """The job cannot start; the error and the FAILED job's errors say why."""
    from dfm.session import JobStatus

    with pytest.raises(ValueError) as info:
        session.execute(prepared, {}, default_callback=lambda *a: None)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    job = session.reattach(message.split()[1])
    assert job.get_status() is JobStatus.FAILED
    assert all(needle in str(job.errors[0]) for needle in needles), job.errors
    return message


def describe(x: Any, site: str) -> Pipeline:
    from meteo.fed.api.debug import Describe

    with Pipeline(name=f"describe-on-{site}") as pipeline:
        Yield(value=Describe(x=x, site=site), place="out")
    return pipeline


def test_a_site_that_allows_pickle_accepts_a_set_literal_parameter_and_token(
    session: Any,
) -> None:
    from meteo.fed.api.debug import Describe, MakeSet

    from dfm.session import JobStatus

    job, got = run(session, describe(frozenset({2, 1}), "server"))
    assert job.get_status() is JobStatus.FINISHED, job.errors
    assert got == {Frame.start_frame(0): "frozenset [1, 2]"}

    job, got = run(session, describe(PlaceParam(place="a"), "server"), [{"a": {5, 4}}])
    assert job.get_status() is JobStatus.FINISHED, job.errors
    assert got == {Frame.start_frame(0): "set [4, 5]"}

    with Pipeline(name="north-to-server") as pipeline:
        Yield(value=Describe(x=MakeSet(site="north"), site="server"), place="out")
    job, got = run(session, pipeline)
    assert job.get_status() is JobStatus.FINISHED, job.errors
    assert got == {Frame.start_frame(0): "set [1, 2, 3]"}


def test_a_site_that_does_not_allow_pickle_refuses_a_set_literal(session: Any) -> None:
    refused_at_start(
        session,
        session.prepare(describe(frozenset({1, 2}), "north")),
        "site 'north'",
        "Site 'north' refuses the literal",
        "parameter 'x'",
        PICKLE_RULE,
    )


def test_a_refused_parameter_fails_its_frame_only(session: Any) -> None:
    from dfm.session import JobStatus

    job, got = run(session, describe(PlaceParam(place="a"), "north"), [{"a": {1}}, {"a": 2}])
    assert job.get_status() is JobStatus.FAILED
    assert got[Frame.start_frame(1)] == "int [2]"
    error = got[Frame.start_frame(0)]
    assert isinstance(error, ErrorToken), error
    [info] = error.errors
    assert info.site == "north" and info.message.startswith("Site 'north' refuses parameter 'a'")
    assert PICKLE_RULE in info.message


def test_a_refused_token_is_an_error_naming_the_site_and_the_rule(session: Any) -> None:
    from meteo.fed.api.debug import Describe, MakeSet

    from dfm.session import JobStatus

    with Pipeline(name="server-to-north") as pipeline:
        Yield(value=Describe(x=MakeSet(site="server"), site="north"), place="out")
    job, got = run(session, pipeline)
    assert job.get_status() is JobStatus.FAILED
    error = got[Frame.start_frame(0)]
    assert isinstance(error, ErrorToken), error
    [info] = error.errors
    assert info.site == "north", info
    assert "Site 'north' received a refused value from site 'server'" in info.message
    assert PICKLE_RULE in info.message


def test_the_application_decodes_under_the_homesite_policy(session: Any) -> None:
    from meteo.fed.api.debug import MakeSet

    with Pipeline(name="set-to-app") as pipeline:
        Yield(value=MakeSet(site="server"), place="out")
    _, got = run(session, pipeline)
    error = got[Frame.start_frame(0)]
    assert isinstance(error, ErrorToken), error
    [info] = error.errors
    assert info.site == "app" and "homesite 'app'" in info.message, info
    assert "from site 'server'" in info.message and "pickle" in info.message


def test_regression_crafted_netir_sent_through_flare_is_refused_and_runs_nothing(
    session: Any, tmp_path: Path
) -> None:
    from dfm.irgen import PreparedPipeline
    from dfm.session import JobStatus

    canary = tmp_path / "canary"
    inject = f"open({str(canary)!r}, 'w').write('code ran')"
    prepared = session.prepare(describe("hi", "north"))
    data = prepared.model_dump(mode="json")
    net = data["net_irs_by_site"]["north"]
    net["transitions"][0]["name"] = f"node0\n        {inject}\n"
    net["fingerprint"] = ""  # a consistent forgery: recomputed from the content
    crafted = PreparedPipeline.model_validate(data)
    refused_at_start(
        session, crafted, "site 'north'", "Site 'north' refuses the NetIR", "transitions[0].name"
    )
    assert not canary.exists()
    job, got = run(session, describe("hi", "north"))  # the site is fine
    assert job.get_status() is JobStatus.FINISHED, job.errors
    assert got == {Frame.start_frame(0): "str ['hi']"}


def test_a_netir_of_another_federation_is_refused(session: Any) -> None:
    from dfm.irgen import PreparedPipeline

    data = session.prepare(describe("hi", "north")).model_dump(mode="json")
    data["net_irs_by_site"]["north"]["federation_name"] = "elsewhere"
    data["net_irs_by_site"]["north"]["fingerprint"] = ""
    refused_at_start(
        session,
        PreparedPipeline.model_validate(data),
        "Site 'north' refuses the NetIR",
        "federation",
    )
