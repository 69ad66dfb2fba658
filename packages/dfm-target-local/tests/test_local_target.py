from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from dfm.api import (
    STATUS_PLACE_NAME,
    ErrorInfo,
    ErrorToken,
    Frame,
    Pipeline,
    PlaceParam,
    StopToken,
    Yield,
)
from dfm.session import JobStatus, Session, ThreadDispatcher, load_target
from dfm.targets.local import LocalTarget

STOP = Frame.stop_frame()


@pytest.fixture(params=[False, True], ids=["payload", "wire"])
def session(federation: str, request: pytest.FixtureRequest) -> Iterator[Session]:
    """A local session; the wire variant also round-trips every package envelope."""
    with Session(federation, "home", target="local", wire_roundtrip=request.param) as s:
        yield s


def test_real_entry_point_loads() -> None:
    assert load_target("local") is LocalTarget


def test_yield_and_status_sequence(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x={"a": 1}, site="home"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(10)
    assert job.get_status() is JobStatus.FINISHED and job.errors == []
    assert len(job.job_id) == 8 and int(job.job_id, 16) >= 0
    assert [(t[0], t[2], t[3], t[4]) for t in recorder.tokens] == [
        ("home", Frame([0]), "yield", {"a": 1}),
        ("home", Frame([0]), STATUS_PLACE_NAME, StopToken()),
        ("home", STOP, STATUS_PLACE_NAME, StopToken()),
    ]
    assert recorder.tokens[0][1] is not None and recorder.tokens[1][1] is None


def test_prepare_debug_names_operations(
    session: Session, ops: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with Pipeline() as p:
        e = ops.Echo(x=PlaceParam(place="a"), site="s1")
        Yield(value=ops.Concat(a=e, b="!", site="s2"))
    session.prepare(p, debug=True)
    printed = capsys.readouterr().err.splitlines()
    assert "  ops.Echo (node 0) on s1" in printed and "  ops.Concat (node 1) on s2" in printed
    assert not any(line.startswith("  node0 ->") for line in printed)


def test_three_param_sets_across_sites(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        e = ops.Echo(x=PlaceParam(place="a"), site="s1")
        Yield(value=ops.Concat(a=e, b="!", site="s2"))
    prepared = session.prepare(p)
    assert sorted(prepared.get_participating_sites()) == ["s1", "s2"]
    job = session.execute(prepared, [{"a": "x"}, {"a": "y"}, {"a": "z"}], default_callback=recorder)
    assert job.wait_until_finished(10) and job.get_status() is JobStatus.FINISHED
    assert sorted(recorder.at("yield"), key=str) == [
        (Frame([0]), "x!"),
        (Frame([1]), "y!"),
        (Frame([2]), "z!"),
    ]
    status = recorder.at(STATUS_PLACE_NAME)
    assert sorted(str(f) for f, _ in status[:-1]) == ["[0]", "[1]", "[2]"]
    assert status[-1] == (STOP, StopToken())


def test_values_cross_sites_through_the_serializer(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=ops.Echo(x=PlaceParam(place="a"), site="s1"), site="s2"))
    value = {"t": (1, 2), 3: b"x", "f": float("inf")}
    job = session.execute(session.prepare(p), {"a": value}, default_callback=recorder)
    assert job.wait_until_finished(10) and job.get_status() is JobStatus.FINISHED
    assert recorder.at("yield") == [(Frame([0]), value)]
    with pytest.raises(ValueError, match="cannot be sent"):
        session.execute(session.prepare(p), {"a": threading.Lock()})


def test_delayed_params(session: Session, ops: ModuleType, recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.Concat(a=PlaceParam(place="a"), b="!", site="s1"))
    job = session.execute(session.prepare(p), None, autostop=False, default_callback=recorder)
    job.send_input_params({"a": "d1"})
    with pytest.raises(ValueError, match="missing"):
        job.send_input_params([{"a": "ok"}, {"b": 1}])
    job.send_input_params([{"a": "d2"}, {"a": "d3"}])
    assert not job.wait_until_finished(0.3)
    assert job.get_status() is JobStatus.RUNNING
    assert len(recorder.at("yield")) == 3
    job.send_stop_frame()
    with pytest.raises(ValueError, match="already sent"):
        job.send_stop_frame()
    assert job.wait_until_finished(10) and job.get_status() is JobStatus.FINISHED
    assert sorted(recorder.at("yield"), key=str) == [
        (Frame([0]), "d1!"),
        (Frame([1]), "d2!"),
        (Frame([2]), "d3!"),
    ]


def test_adapter_error_fails_job_on_dependent_yields_only(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as p:
        Yield(value=ops.Fail(msg="boom", site="s1"), place="failed")
        Yield(value=ops.Echo(x="fine", site="s2"), place="fine")
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(10)
    assert job.get_status() is JobStatus.FAILED
    assert recorder.at("fine") == [(Frame([0]), "fine")]
    ((frame, error),) = recorder.at("failed")
    assert isinstance(error, ErrorToken) and "adapter failed: boom" in str(error)
    assert error.errors[0].site == "s1" and "Traceback" in error.errors[0].stack_trace
    assert any(isinstance(e, ErrorToken) and "boom" in str(e) for e in job.errors)
    assert recorder.at(STATUS_PLACE_NAME)[-1] == (STOP, StopToken())


@pytest.mark.parametrize("kind", ["unserializable", "bad selection"])
def test_a_yield_that_cannot_be_sent_fails_its_frame(
    session: Session, ops: ModuleType, recorder: Any, kind: str
) -> None:
    with Pipeline() as p:
        if kind == "unserializable":
            Yield(value=ops.Unsendable(site="s1"), place="out")
        else:
            Yield(value=ops.Echo(x={"a": 1}, site="s1")["nokey"], place="out")
        Yield(value=ops.Echo(x="fine", site="s2"), place="fine")
    job = session.execute(session.prepare(p), default_callback=recorder)
    assert job.wait_until_finished(10)
    assert job.get_status() is JobStatus.FAILED
    ((_, error),) = recorder.at("out")
    assert isinstance(error, ErrorToken)
    assert recorder.at("fine") == [(Frame([0]), "fine")]
    statuses = dict(recorder.at(STATUS_PLACE_NAME))
    assert isinstance(statuses[Frame([0])], ErrorToken)
    assert statuses[Frame([0])].errors == error.errors
    assert statuses[STOP] == StopToken()


def test_cancel_is_prompt_and_silent(session: Session, ops: ModuleType, recorder: Any) -> None:
    # The adapter sleeps far longer than the test may run (bounded at 60 s): cancel and
    # the wait can only return because they do not wait for it.
    with Pipeline() as p:
        Yield(value=ops.Sleep(seconds=3600, site="s1"))
    job = session.execute(session.prepare(p), default_callback=recorder)
    time.sleep(0.1)
    job.cancel()
    assert job.get_status() is JobStatus.ABORTED  # at once, not after the sites stopped
    assert job.wait_until_finished(30)
    time.sleep(0.2)
    assert recorder.tokens == []


def test_twenty_concurrent_jobs(session: Session, ops: ModuleType, new_recorder: Any) -> None:
    with Pipeline() as p:
        e = ops.Sleep(seconds=PlaceParam(place="t"), site="s1")
        Yield(value=ops.Concat(a=e, b=PlaceParam(place="tag"), site="s2"))
    prepared = session.prepare(p)
    recorders = [new_recorder() for _ in range(20)]
    jobs = [
        session.execute(prepared, {"t": 0.3, "tag": f"#{i}"}, default_callback=recorders[i])
        for i in range(20)
    ]
    # How fast concurrent jobs run is measured in tools/bench/bench_local.py.
    assert all(job.wait_until_finished(30) for job in jobs)
    assert len({job.job_id for job in jobs}) == 20
    for i, (job, rec) in enumerate(zip(jobs, recorders, strict=True)):
        assert job.get_status() is JobStatus.FINISHED
        assert rec.at("yield") == [(Frame([0]), f"0.3#{i}")]


def test_many_jobs_in_sequence_do_not_leak_threads(session: Session, ops: ModuleType) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=1, site="s1"))
    prepared = session.prepare(p)
    session.execute(prepared).wait_until_finished(10)
    before = threading.active_count()
    for _ in range(200):
        assert session.execute(prepared, default_callback=lambda *a: None).wait_until_finished(10)
    assert threading.active_count() <= before + 2


@pytest.mark.parametrize("op", ["Sleep", "SyncSleep"])
def test_job_timeout_fails_the_job(
    federation: str, ops: ModuleType, recorder: Any, op: str
) -> None:
    with Session(federation, "home", job_timeout=0.5) as session:
        with Pipeline() as p:
            Yield(value=getattr(ops, op)(seconds=30, site="s1"))
        prepared = session.prepare(p)
        job = session.execute(prepared, default_callback=recorder)
        assert job.wait_until_finished(5)
        assert job.get_status() is JobStatus.FAILED
        assert job.errors == ["timed out after 0.5s (site(s) still running: s1)"]
        quick = session.execute(prepared, options={"job_timeout": 0.2})
        assert quick.wait_until_finished(5) and quick.get_status() is JobStatus.FAILED
        assert quick.errors == ["timed out after 0.2s (site(s) still running: s1)"]
    # The frame and the job still end with status tokens, carrying the reason.
    error = ErrorToken(errors=[ErrorInfo(type="JobTimeout", message=job.errors[0], site="s1")])
    assert recorder.tokens == [
        ("s1", None, Frame([0]), STATUS_PLACE_NAME, error),
        ("s1", None, STOP, STATUS_PLACE_NAME, error),
    ]


def test_bad_job_options(session: Session, ops: ModuleType) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=1, site="s1"))
    prepared = session.prepare(p)
    with pytest.raises(TypeError, match="job_timeout"):
        session.execute(prepared, options={"timeout": 3})
    with pytest.raises(ValueError, match="positive"):
        session.execute(prepared, options={"job_timeout": -1})


def test_detach_and_reattach(session: Session, ops: ModuleType, new_recorder: Any) -> None:
    with Pipeline() as p:
        Yield(value=ops.Concat(a=PlaceParam(place="a"), b="!", site="s1"))
    first, second = new_recorder(), new_recorder()
    job = session.execute(session.prepare(p), None, autostop=False, default_callback=first)
    job.detach()
    with pytest.raises(RuntimeError, match="detached"):
        job.wait_until_finished(0)
    info = session.reattach(job.job_id)
    assert info.was_found and info.get_status() is JobStatus.RUNNING
    info.send_input_params([{"a": "one"}, {"a": "two"}])
    info.send_stop_frame()
    assert info.wait_until_finished(10) and info.get_status() is JobStatus.FINISHED
    assert first.tokens == []
    again = session.reattach(job.job_id, default_callback=second)
    assert again.wait_until_finished(10)
    assert sorted(v for _, v in second.at("yield")) == ["one!", "two!"]
    assert second.at(STATUS_PLACE_NAME)[-1] == (STOP, StopToken())


def test_unknown_reattach(session: Session) -> None:
    job = session.reattach("00000000")
    assert not job.was_found and job.get_status() is JobStatus.UNKNOWN


def test_callback_exception_is_reported_and_delivery_continues(
    session: Session, ops: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []

    def callback(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        seen.append(data)
        if data == "bad":
            raise RuntimeError("callback bug")

    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="s1"))
    job = session.execute(
        session.prepare(p), [{"a": "bad"}, {"a": "good"}], default_callback=callback
    )
    # Every site finished, but a callback failed: the job is FAILED and says why.
    assert job.wait_until_finished(10) and job.get_status() is JobStatus.FAILED
    assert "good" in seen and [str(e) for e in job.callback_errors] == ["callback bug"]
    assert ["RuntimeError: callback bug" in str(e) for e in job.errors] == [True]
    assert "callback bug" in caplog.text


def test_api_version_mismatch_raises_and_fails(session: Session, ops: ModuleType) -> None:
    with Pipeline(api_version="2.0") as p:
        Yield(value=ops.Echo(x=1, site="s1"))
    prepared = session.prepare(p)
    with pytest.raises(ValueError, match="API major version mismatch") as info:
        session.execute(prepared)  # raises; never hangs (the test is bounded in time)
    job_id = str(info.value).split()[1]
    failed = session.reattach(job_id)
    assert failed.get_status() is JobStatus.FAILED
    assert "API major version mismatch" in str(failed.errors[0])


def test_sys_exit_in_an_adapter_fails_its_frames_not_the_site(
    session: Session, ops: ModuleType, recorder: Any
) -> None:
    with Pipeline() as p:
        Yield(value=ops.Exit(site="s2"))
    job = session.execute(session.prepare(p), [{}, {}], default_callback=recorder)
    host = session.target._hosts["s2"]  # type: ignore[attr-defined]
    assert job.wait_until_finished(5)
    assert job.get_status() is JobStatus.FAILED
    for error in job.errors:
        assert isinstance(error, ErrorToken)
        [info] = error.errors
        assert (info.type, info.site) == ("SystemExit", "s2")
        assert info.message == "an adapter called sys.exit()"
    statuses = recorder.at(STATUS_PLACE_NAME)
    assert sorted(str(f) for f, _ in statuses[:2]) == ["[0]", "[1]"]
    assert statuses[2:] == [(STOP, StopToken())]
    with Pipeline() as p2:
        Yield(value=ops.Echo(x="after", site="s2"))
    again = session.execute(session.prepare(p2))  # the same site runs it
    assert again.wait_until_finished(5) and again.get_status() is JobStatus.FINISHED
    assert session.target._hosts["s2"] is host  # type: ignore[attr-defined]


def test_close_aborts_running_jobs(federation: str, ops: ModuleType) -> None:
    session = Session(federation, "home")
    with Pipeline() as p:
        Yield(value=ops.Sleep(seconds=3600, site="s1"))  # longer than the test may run
    job = session.execute(session.prepare(p))
    session.close()  # returns without waiting for the adapter
    assert job.get_status() is JobStatus.ABORTED
    assert session.reattach(job.job_id).get_status() is JobStatus.UNKNOWN


def test_thousands_of_sets_across_two_sites(federation: str, ops: ModuleType) -> None:
    count = [0]

    def callback(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        count[0] += 1

    with Session(federation, "home", callback_dispatcher=ThreadDispatcher()) as session:
        with Pipeline() as p:
            e = ops.Echo(x=PlaceParam(place="a"), site="s1")
            Yield(value=ops.Echo(x=e, site="s2"))
        params = [{"a": i} for i in range(3000)]
        job = session.execute(session.prepare(p), params, default_callback=callback)
        assert job.wait_until_finished(30) and job.get_status() is JobStatus.FINISHED
    assert count[0] == 2 * 3000 + 1


def test_options_are_checked(federation: str) -> None:
    with pytest.raises(TypeError, match="accepted options: job_timeout"):
        Session(federation, "home", max_concurrent_jobs=4)
    with pytest.raises(ValueError, match="job_timeout"):
        Session(federation, "home", job_timeout=0)


def test_prepare_fills_api_version_and_shows_code(session: Session, ops: ModuleType) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=ops.Echo(x=1, site="s1"), site="s2"))
    prepared = session.prepare(p)
    assert prepared.api_version == "1.0"
    assert session.runtime_module.__name__ == "localtestfed.fed.runtime.home"
    code = session.debug_show_code(prepared)
    assert sorted(code) == ["s1", "s2"]
    assert all("class ThisNet" in source for source in code.values())
    job = session.execute(prepared, default_callback=lambda *a: None)
    assert job.wait_until_finished(10)
    from dfm.runtime import site_decode_policy
    from dfm.runtime.codegen import net_module_path

    netir = prepared.net_irs()["s1"]
    policy = site_decode_policy(prepared.federation_name, "s1")
    assert "decode_literal(" in code["s1"]  # the literal 1, under the site's policy
    assert net_module_path(netir, prepared.federation_name, policy).read_text() == code["s1"]
    with pytest.raises(ValueError, match="candidate"):
        session.prepare(p, restrict_to_sites="homesite")
    with Pipeline() as free:
        Yield(value=ops.Echo(x=1))
    assert session.prepare(free, restrict_to_sites="homesite").get_participating_sites() == ["home"]
    restricted = session.prepare(free, restrict_to_sites=["home", "s2"])
    assert set(restricted.get_participating_sites()) <= {"home", "s2"}


def test_dfm_run_command(
    federation: str, ops: ModuleType, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from dfm.session._cli import run_command

    with Pipeline() as p:
        Yield(value=ops.Concat(a=PlaceParam(place="name"), b="!", site="s1"))
    path = tmp_path / "pipeline.json"
    p.save_to_file(path)
    args = [str(path), "--federation", federation, "--homesite", "home"]
    params = '[{"name": "Ada"}, {"name": "Bob"}]'
    assert run_command([*args, "--params", params, "--format", "text"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "ops.Concat (node 0) on s1\t[0]\tyield\tAda!" in out
    assert "ops.Concat (node 0) on s1\t[1]\tyield\tBob!" in out
    assert out[-1].endswith(": FINISHED")
    assert run_command([*args, "--params", params]) == 0  # JSON lines by default
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    yields = {r["data"] for r in records if r.get("place") == "yield"}
    assert yields == {"Ada!", "Bob!"} and records[-1]["status"] == "FINISHED"
    assert run_command([*args, "--params", "{}"]) == 2  # a bad parameter set
    assert "missing" in capsys.readouterr().err
    with Pipeline() as p:
        Yield(value=ops.Fail(msg="x", site="s1"))
    p.save_to_file(path)
    assert run_command([*args, "--option", "job_timeout=5"]) == 1
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "FAILED"


def test_async_callbacks_on_the_applications_loop(federation: str, ops: ModuleType) -> None:
    import asyncio

    from dfm.session import AsyncioDispatcher

    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="s1"))

    async def main() -> list[tuple[str, Any]]:
        got: list[tuple[str, Any]] = []
        loop_thread = threading.current_thread()

        async def callback(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
            assert threading.current_thread() is loop_thread
            await asyncio.sleep(0)
            got.append((place, data))

        with Session(federation, "home", callback_dispatcher=AsyncioDispatcher()) as s:
            job = s.execute(s.prepare(p), [{"a": 1}, {"a": 2}], default_callback=callback)
            assert await asyncio.to_thread(job.wait_until_finished, 10)
            assert job.get_status() is JobStatus.FINISHED
        return got

    got = asyncio.run(main())
    assert sorted(d for place, d in got if place == "yield") == [1, 2]
    assert got[-1] == (STATUS_PLACE_NAME, StopToken())


def test_thread_dispatcher_with_async_callbacks(federation: str, ops: ModuleType) -> None:
    got: list[Any] = []

    async def callback(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        got.append(threading.current_thread().name)

    dispatcher = ThreadDispatcher(name="my-callbacks")
    with Session(federation, "home", callback_dispatcher=dispatcher) as s:
        with Pipeline() as p:
            Yield(value=ops.Echo(x=1, site="s2"))
        job = s.execute(s.prepare(p), default_callback=callback)
        assert job.wait_until_finished(10) and len(got) == 3
    assert set(got) == {"my-callbacks"}
    dispatcher.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"processes": "false"}, "processes must be of type bool"),
        ({"sync_workers": "x"}, "sync_workers must be of type int"),
        ({"buffer_limit": -1}, "buffer_limit must be at least 0"),
        ({"start_timeout": "x"}, "start_timeout must be a positive number"),
    ],
)
def test_option_types_are_checked(federation: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        Session(federation, "home", **options)


def test_results_by_place_and_frame_without_callbacks(session: Session, ops: ModuleType) -> None:
    with Pipeline() as p:
        Yield(value=ops.Echo(x=PlaceParam(place="a"), site="s1"), place="echo")
        Yield(value=ops.Echo(x="one", site="s1"), place="both", multiuse=True)
        Yield(value=ops.Echo(x="two", site="s2"), place="both", multiuse=True)
    job = session.execute(session.prepare(p), [{"a": 10}, {"a": 20}])
    results = job.results(timeout=10)
    assert job.get_status() is JobStatus.FINISHED and job.errors == []
    f0, f1 = Frame.start_frame(0), Frame.start_frame(1)
    assert results["echo"] == {f0: 10, f1: 20}
    assert sorted(results["both"][f0]) == ["one", "two"] == sorted(results["both"][f1])
