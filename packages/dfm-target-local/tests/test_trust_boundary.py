"""Every site is a trust boundary, in both local modes (threads and processes=True).

The attacks of issue 6 as regression tests: crafted NetIRs, pickles where the site does
not allow them, adapters raising exit-type exceptions or calling ``os._exit``, kept
values sent away. Each must end in an error that names the cause, never run code,
never lose a site.
"""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame, Pipeline, PlaceParam, StopToken, Yield
from dfm.irgen import PreparedPipeline
from dfm.session import JobStatus, Session

STOP = Frame.stop_frame()
MODES = {"threads": {}, "processes": {"processes": True}}


@pytest.fixture(scope="module", params=list(MODES))
def session(federation: str, request: pytest.FixtureRequest) -> Iterator[Session]:
    with Session(federation, "home", job_timeout=30, **MODES[request.param]) as s:
        yield s


def crafted(prepared: PreparedPipeline, site: str, change: Any) -> PreparedPipeline:
    """The pipeline with ``change(net_dict)`` applied to one site's NetIR (as JSON)."""
    data = prepared.model_dump(mode="json")
    net = data["net_irs_by_site"][site]
    change(net)
    net["fingerprint"] = ""  # a consistent forgery: recomputed from the content
    return PreparedPipeline.model_validate(data)


def refused_at_start(session: Session, prepared: PreparedPipeline, *needles: str) -> str:
    with pytest.raises(ValueError) as info:
        session.execute(prepared)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    job = session.reattach(message.split()[1])
    assert job.get_status() is JobStatus.FAILED
    assert all(needle in str(job.errors[0]) for needle in needles)
    return message


def test_regression_newline_in_a_transition_name_runs_nothing(
    session: Session, ops: ModuleType, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    inject = f"open({str(canary)!r}, 'w').write('code ran')"
    with Pipeline() as p:
        Yield(value=ops.Echo(x="hi", site="s1"))
    prepared = session.prepare(p)

    def rename(net: dict[str, Any]) -> None:
        net["transitions"][0]["name"] = f"node0\n        {inject}\n"

    refused_at_start(
        session, crafted(prepared, "s1", rename), "site 's1'", "transitions[0].name", "refuses"
    )
    assert not canary.exists()
    job = session.execute(prepared)  # the site is fine
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("transitions", 0, "body", 0, "stmt_id"), "a\nimport os", "stmt_id"),
        (("transitions", 0, "body", 0, "adapter"), "ops.Echo(); import os; x", "adapter"),
        (("transitions", 0, "body", 0, "provider"), "os.system", "provider"),
        (("transitions", 0, "sends", 0, "place"), "y\n#", "place"),
        (("federation_name",), "os", "federation"),
        (("site",), "s2", "site"),
    ],
)
def test_crafted_netir_fields_are_refused(
    session: Session, ops: ModuleType, path: tuple[Any, ...], value: str, field: str
) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x="hi", site="s1"))

    def change(net: dict[str, Any]) -> None:
        target = net
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    refused_at_start(session, crafted(session.prepare(p), "s1", change), "'s1'", field)


def test_regression_pickled_literal_is_refused_by_the_site(
    session: Session, ops: ModuleType
) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=frozenset({1, 2}), site="s2"))  # only pickle carries it
    refused_at_start(
        session,
        session.prepare(p),
        "Site 's2' refuses the literal",
        "parameter 'x'",
        "does not allow pickled data",
    )


def test_pickled_parameter_fails_its_frame(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="s2"))
    job = session.execute(session.prepare(p), [{"a": {1}}, {"a": 2}], default_callback=recorder)
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FAILED
    values = dict(recorder.at("yield"))
    assert values[Frame([1])] == 2
    [info] = values[Frame([0])].errors
    assert info.site == "s2" and info.message.startswith("Site 's2' refuses parameter 'a'")


def test_a_value_the_homesite_refuses_is_an_error_naming_it(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as p:
        Yield(value=ops.MakeSet(site="s1"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(30)
    [(_, token)] = recorder.at("yield")
    [info] = token.errors
    assert info.site == "home" and "homesite 'home'" in info.message
    assert "from site 's1'" in info.message and "pickle" in info.message


@pytest.mark.parametrize("op", ["Raise", "SyncRaise"])
def test_exit_type_exceptions_fail_their_frame_only(
    session: Session, ops: ModuleType, op: str, new_recorder: Any
) -> None:
    kinds = ["exit", "kbd", "genexit", "custom"]
    with Pipeline() as p:
        Yield(value=getattr(ops, op)(kind=PlaceParam(place="k"), site="s2"))
        Yield(value=ops.Echo(x=PlaceParam(place="e"), site="s2"), place="echo")
    with Pipeline() as other:
        Yield(value=ops.SyncSleep(seconds=0.3, site="s2"))
    side = new_recorder()
    concurrent = session.execute(session.prepare(other), default_callback=side)
    recorder = new_recorder()
    params = [{"k": k, "e": k} for k in kinds]
    job = session.execute(session.prepare(p), params, default_callback=recorder)
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FAILED
    errors = dict(recorder.at("yield"))
    expected = ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "Custom"]
    assert [errors[Frame([i])].errors[0].type for i in range(4)] == expected
    assert all(errors[Frame([i])].errors[0].site == "s2" for i in range(4))
    assert sorted(recorder.at("echo"), key=str) == [(Frame([i]), k) for i, k in enumerate(kinds)]
    assert job.errors and all(isinstance(e, ErrorToken) for e in job.errors)
    assert concurrent.wait_until_finished(30) and concurrent.get_status() is JobStatus.FINISHED
    with Pipeline() as after:
        Yield(value=ops.Echo(x="next", site="s2"))
    again = session.execute(session.prepare(after))
    assert again.wait_until_finished(30) and again.get_status() is JobStatus.FINISHED


def test_an_adapter_stopping_the_event_loop_does_not_end_the_site(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as p:
        Yield(value=ops.StopLoop(site="s1"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED
    assert recorder.at("yield") == [(Frame([0]), "stopped the loop")]
    assert recorder.at(STATUS_PLACE_NAME)[-1] == (STOP, StopToken())


def test_keep_on_site_value_sent_away_is_refused_by_the_site(
    session: Session, ops: ModuleType
) -> None:
    with Pipeline() as p:  # s1 keeps ops.Secret (its KEEP_ON_SITE); CountRows runs on s2
        Yield(value=ops.CountRows(rows=ops.Secret(site="s1"), site="s2"))
    refused_at_start(
        session, session.prepare(p), "Site 's1'", "'ops.Secret'", "kept on site 's1'", "'s2'"
    )
    with Pipeline() as ok:  # computed on s1, the count may leave
        Yield(value=ops.CountRows(rows=ops.Secret(site="s1"), site="s1"))
    job = session.execute(session.prepare(ok))
    assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED


def test_dfm_run_on_a_pipeline_file_carrying_a_pickle_fails_with_the_reason(
    session: Session, federation: str, ops: ModuleType, tmp_path: Path, capsys: Any
) -> None:
    from dfm.session._cli import run_command

    with Pipeline() as p:
        Yield(value=ops.Echo(x=1, site="s1"))
    data = json.loads(p.model_dump_json())
    path = tmp_path / "pipeline.json"
    text = json.dumps(data, separators=(",", ":"))
    # The literal 1 becomes a pickled set, as a hostile or careless author would write it.
    pickled = base64.b64encode(pickle.dumps({1, 2})).decode("ascii")
    marker = '"x":1'
    assert marker in text
    tagged = json.dumps({"tag": "__dfm__value__", "value": ["pickle", pickled]})
    path.write_text(text.replace(marker, f'"x": {tagged}'))
    options = ["--option", "processes=true"] if session.target._processes else []
    args = [str(path), "--federation", federation, "--homesite", "home", *options]
    assert run_command(args) != 0
    err = capsys.readouterr().err
    assert "pickle" in err and ("refuses" in err or "Refusing" in err), err
