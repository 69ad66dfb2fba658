from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from dfm_testkit import Recorder, Token

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame, StopToken
from dfm.irgen import PreparedPipeline
from dfm.session import (
    DirectDispatcher,
    JobStatus,
    Session,
    TargetLoadError,
    TargetNotFoundError,
    clear_target_cache,
    default_target_name,
)


def collect() -> tuple[list[Token], Recorder]:
    """The testkit's recording callback, and the list it records into."""
    recorder = Recorder()
    return recorder.tokens, recorder


@pytest.fixture
def session(entry_points: Any) -> Session:
    return Session("fakefed", "home", target="fake")


def test_empty_names_are_rejected(entry_points: Any) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        Session("", "home", target="fake")
    with pytest.raises(ValueError, match="non-empty"):
        Session("fakefed", "", target="fake")


def test_target_from_env_and_default(entry_points: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_target = entry_points[0].obj

    class Needy(fake_target):  # type: ignore[misc,valid-type]  # needs set-up: priority 0
        default_priority = 0

    class Embedded(fake_target):  # type: ignore[misc,valid-type]
        default_priority = 50

    ep, dist = type(entry_points[0]), type(entry_points[0].dist)
    monkeypatch.setenv("DFM_TARGET", "needy")
    entry_points.append(ep("needy", "n:T", dist("dfm-target-needy", "1"), Needy))
    clear_target_cache()
    assert Session("fakefed", "home").target_name == "needy"
    monkeypatch.delenv("DFM_TARGET")
    # The fake target (priority 0) and needy tie: the user must choose.
    with pytest.raises(TargetLoadError, match="fake, needy.*DFM_TARGET"):
        Session("fakefed", "home")
    entry_points.append(ep("embedded", "e:T", dist("dfm-target-embedded", "1"), Embedded))
    entry_points.append(ep("broken", "b:T", dist("dfm-target-b", "1"), error=ImportError("x")))
    clear_target_cache()
    assert default_target_name() == "embedded"  # the highest priority; broken ones left out
    entry_points.clear()
    clear_target_cache()
    with pytest.raises(TargetNotFoundError, match="No DFM target is installed"):
        Session("fakefed", "home")


def test_target_options_are_validated(entry_points: Any) -> None:
    s = Session("fakefed", "home", target="fake", hang=True, color="blue")
    assert type(s.target).__name__ == "FakeTarget"
    assert s.target.hang and s.target.color == "blue"  # type: ignore[attr-defined]
    with pytest.raises(TypeError) as info:
        Session("fakefed", "home", target="fake", colour="blue", speed=3)
    message = str(info.value)
    assert "colour, speed" in message and "accepted options: hang, color" in message


def test_session_defaults(session: Session) -> None:
    assert isinstance(session.callback_dispatcher, DirectDispatcher)
    assert session.logger.name == "dfm.session"
    assert session.target.logger.name == "dfm.session.fake"
    from dfm.api import is_module_allowed

    assert is_module_allowed("fakefed.fed.api.ops")


def test_execute_frames_params_and_finishes(session: Session, prepared: PreparedPipeline) -> None:
    got, cb = collect()
    job = session.execute(prepared, [{"a": "x"}, {"a": "y"}, {"a": "z"}], default_callback=cb)
    assert job.wait_until_finished(5)
    assert job.get_status() is JobStatus.FINISHED and job.errors == []
    assert len(job.job_id) == 8
    yields = [(t[2], t[4]) for t in got if t[3] == "yield"]
    assert yields == [(Frame([0]), "x"), (Frame([1]), "y"), (Frame([2]), "z")]
    assert got[-1] == ("home", None, Frame.stop_frame(), STATUS_PLACE_NAME, StopToken())
    assert session.target.connected == 1  # type: ignore[attr-defined]
    session.close()
    assert session.target.closed == 1  # type: ignore[attr-defined]


def test_single_dict_and_place_callback_wins(session: Session, prepared: PreparedPipeline) -> None:
    default, dcb = collect()
    placed, pcb = collect()
    job = session.execute(prepared, {"a": 1}, default_callback=dcb, place_callbacks={"yield": pcb})
    assert job.wait_until_finished(5)
    assert [t[4] for t in placed] == [1]
    assert {t[3] for t in default} == {STATUS_PLACE_NAME}


def test_execute_validates_before_submitting(session: Session, prepared: PreparedPipeline) -> None:
    with pytest.raises(ValueError, match="missing"):
        session.execute(prepared, [{"a": 1}, {}])
    with pytest.raises(ValueError, match="not PlaceParams"):
        session.execute(prepared, {"a": 1, "b": 2})
    with pytest.raises(ValueError, match="must be a dict"):
        session.execute(prepared, [{"a": 1}, 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="prepare"):
        session.execute("pipeline")  # type: ignore[arg-type]
    assert session.target.submitted == []  # type: ignore[attr-defined]


def test_execute_rejects_mixed_callbacks(session: Session, prepared: PreparedPipeline) -> None:
    async def acb(*args: Any) -> None:
        pass

    def scb(*args: Any) -> None:
        pass

    with pytest.raises(ValueError, match="mix"):
        session.execute(prepared, {"a": 1}, default_callback=scb, place_callbacks={"yield": acb})
    assert session.target.submitted == []  # type: ignore[attr-defined]


def test_async_callbacks_with_the_default_dispatcher(
    session: Session, prepared: PreparedPipeline
) -> None:
    got: list[tuple[Frame, str, Any]] = []
    loops: set[Any] = set()
    threads: set[str] = set()

    async def cb(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        await asyncio.sleep(0.002 if place == "yield" else 0)  # yields would come last
        loops.add(asyncio.get_running_loop())
        threads.add(threading.current_thread().name)
        got.append((frame, place, data))

    job = session.execute(prepared, [{"a": "x"}, {"a": "y"}], default_callback=cb)
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FINISHED
    assert got == [
        (Frame([0]), "yield", "x"),
        (Frame([0]), STATUS_PLACE_NAME, StopToken()),
        (Frame([1]), "yield", "y"),
        (Frame([1]), STATUS_PLACE_NAME, StopToken()),
        (Frame.stop_frame(), STATUS_PLACE_NAME, StopToken()),
    ]
    assert len(threads) == 1 and threading.current_thread().name not in threads
    (loop,) = loops
    assert loop.is_closed()  # the job's private loop ends with the job


def test_none_params_with_autostop_warns(
    session: Session, prepared: PreparedPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    got, cb = collect()
    with caplog.at_level(logging.WARNING, logger="dfm.session"):
        job = session.execute(prepared, None, default_callback=cb)
    assert "input_params=None" in caplog.text
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FINISHED
    assert [t[2] for t in got] == [Frame.stop_frame()]


def test_missing_callbacks_warn(
    session: Session, prepared: PreparedPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dfm.session"):
        session.execute(prepared, {"a": 1}, place_callbacks={"nowhere": lambda *a: None})
    assert "No callbacks were registered for yield places ['yield']" in caplog.text
    assert "['nowhere']" in caplog.text


def test_unknown_place_callbacks_warn_with_a_default_too(
    session: Session, prepared: PreparedPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    _, cb = collect()
    with caplog.at_level(logging.WARNING, logger="dfm.session"):
        job = session.execute(prepared, {"a": 1}, default_callback=cb, place_callbacks={"nope": cb})
    assert job.wait_until_finished(5)
    assert "['nope']" in caplog.text
    assert f"yield places: ['{STATUS_PLACE_NAME}', 'yield']" in caplog.text
    assert "No callbacks were registered" not in caplog.text  # the default hears 'yield'


def test_param_errors_name_the_frame_of_an_open_job(
    session: Session, city_prepared: PreparedPipeline
) -> None:
    job = session.execute(city_prepared, None, autostop=False)
    job.send_input_params({"city": "Oslo"})  # frame [0]
    with pytest.raises(ValueError, match=r"^Parameter set 1 is missing") as info:
        job.send_input_params({"cty": "Paris"})
    message = str(info.value)
    assert "['city']" in message and "unexpected" in message and "['cty']" in message
    assert "PlaceParams: ['city']" in message
    with pytest.raises(ValueError, match=r"^Parameter set 2 must be a dict"):
        job.send_input_params([{"city": "Rome"}, 3])  # type: ignore[list-item]
    job.send_input_params({"city": "Rome"})  # rejected sets burned no frame: this is [1]
    job.send_stop_frame()
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FINISHED
    assert session.target.submitted[-2:] == [Frame([1]), Frame.stop_frame()]  # type: ignore[attr-defined]


def test_delayed_params_continue_numbering(session: Session, prepared: PreparedPipeline) -> None:
    got, cb = collect()
    job = session.execute(prepared, None, autostop=False, default_callback=cb)
    job.send_input_params({"a": "d1"})
    with pytest.raises(ValueError, match="missing"):
        job.send_input_params([{"a": "ok"}, {}])
    with pytest.raises(ValueError, match="cannot send"):
        job.send_input_params({"a": "unsendable"})
    job.send_input_params([{"a": "d2"}, {"a": "d3"}])
    assert not job.wait_until_finished(0.2)
    assert job.get_status() is JobStatus.RUNNING
    job.send_stop_frame()
    with pytest.raises(ValueError, match="already sent"):
        job.send_stop_frame()
    with pytest.raises((ValueError, RuntimeError)):
        job.send_input_params({"a": "late"})
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FINISHED
    yields = [(t[2], t[4]) for t in got if t[3] == "yield"]
    assert yields == [(Frame([0]), "d1"), (Frame([1]), "d2"), (Frame([2]), "d3")]


def test_error_token_makes_job_failed(session: Session, prepared: PreparedPipeline) -> None:
    got, cb = collect()
    job = session.execute(prepared, [{"a": "boom"}, {"a": "fine"}], default_callback=cb)
    assert job.wait_until_finished(5)
    assert job.get_status() is JobStatus.FAILED
    assert len(job.errors) == 1 and isinstance(job.errors[0], ErrorToken)
    assert [t[4] for t in got if t[3] == "yield"][1] == "fine"


def test_callback_errors_are_recorded_and_delivery_continues(
    session: Session, prepared: PreparedPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []

    def cb(site: str, node: Any, frame: Frame, place: str, data: Any) -> None:
        seen.append(data)
        if data == "bad":
            raise RuntimeError("callback bug")

    with caplog.at_level(logging.WARNING, logger="dfm.session"):
        job = session.execute(prepared, [{"a": "bad"}, {"a": "good"}], default_callback=cb)
        assert job.wait_until_finished(5)
    # The pipeline finished, but the application did not get everything: FAILED.
    assert job.get_status() is JobStatus.FAILED
    assert "good" in seen
    assert [str(e) for e in job.callback_errors] == ["callback bug"]
    (error,) = job.errors
    assert isinstance(error, str)
    assert error.startswith("callback ") and "cb raised RuntimeError: callback bug" in error
    assert "place 'yield', frame [0], from site home" in error
    assert "Traceback" in caplog.text and "callback bug" in caplog.text


@pytest.mark.parametrize(
    "callback",
    [lambda data: None, lambda site, node, frame, place, data, extra: None, "not callable"],
)
def test_a_callback_with_a_wrong_signature_is_refused_at_execute(
    session: Session, prepared: PreparedPipeline, callback: Any
) -> None:
    with pytest.raises(TypeError) as e:
        session.execute(prepared, {"a": 1}, default_callback=callback)
    assert "default_callback" in str(e.value)
    with pytest.raises(TypeError, match=r"place_callbacks\['yield'\]"):
        session.execute(prepared, {"a": 1}, place_callbacks={"yield": callback})


@pytest.mark.parametrize(
    "callback", [print, lambda *args: None, lambda site, node, frame, place, data=None: None]
)
def test_callbacks_that_take_five_arguments_are_accepted(
    session: Session, prepared: PreparedPipeline, callback: Any
) -> None:
    job = session.execute(prepared, {"a": 1}, default_callback=callback)
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FINISHED


def test_results_without_callbacks(session: Session, prepared: PreparedPipeline) -> None:
    job = session.execute(prepared, [{"a": "x"}, {"a": "boom"}, {"a": "z"}])
    results = job.results(timeout=5)
    assert set(results) == {"yield"}  # status tokens are not results
    assert results["yield"][Frame.start_frame(0)] == "x"
    assert results["yield"][Frame.start_frame(2)] == "z"
    assert isinstance(results["yield"][Frame.start_frame(1)], ErrorToken)
    assert job.get_status() is JobStatus.FAILED  # frame [1] failed


def test_results_time_out_and_need_a_collecting_handle(
    entry_points: Any, prepared: PreparedPipeline
) -> None:
    session = Session("fakefed", "home", target="fake", hang=True)
    job = session.execute(prepared, {"a": 1})
    with pytest.raises(TimeoutError, match="did not end within 0.05s"):
        job.results(timeout=0.05)
    job.cancel()
    with_callbacks = session.execute(prepared, {"a": 1}, default_callback=lambda *a: None)
    with pytest.raises(RuntimeError, match="delivers to callbacks"):
        with_callbacks.results(timeout=1)
    with_callbacks.cancel()


def test_cancel_aborts_and_stops_callbacks(entry_points: Any, prepared: PreparedPipeline) -> None:
    session = Session("fakefed", "home", target="fake", hang=True)
    got, cb = collect()
    job = session.execute(prepared, {"a": 1}, default_callback=cb)
    assert not job.wait_until_finished(0.1)
    job.cancel()
    assert job.get_status() is JobStatus.ABORTED
    assert job.wait_until_finished(1)
    assert session.target.cancelled == [job.job_id]  # type: ignore[attr-defined]
    job.cancel()  # idempotent
    assert session.target.cancelled == [job.job_id]  # type: ignore[attr-defined]


def test_wait_without_timeout_and_from_thread(session: Session, prepared: PreparedPipeline) -> None:
    job = session.execute(prepared, {"a": 1})
    results: list[bool] = []
    t = threading.Thread(target=lambda: results.append(job.wait_until_finished()))
    t.start()
    t.join(5)
    assert results == [True]


def test_reattach(session: Session, prepared: PreparedPipeline) -> None:
    with pytest.raises(ValueError, match="default_callback"):
        session.reattach("abcd1234", place_callbacks={"yield": lambda *a: None})
    unknown = session.reattach("abcd1234")
    assert not unknown.was_found and unknown.get_status() is JobStatus.UNKNOWN
    assert unknown.wait_until_finished(0)
    unknown.cancel()
    with pytest.raises(RuntimeError):
        unknown.send_input_params({"a": 1})
    with pytest.raises(RuntimeError):
        unknown.send_stop_frame()


def test_detach_buffers_until_reattach(session: Session, prepared: PreparedPipeline) -> None:
    first, cb1 = collect()
    job = session.execute(prepared, None, autostop=False, default_callback=cb1)
    job.send_input_params({"a": "one"})
    job.detach()
    job.detach()  # idempotent
    with pytest.raises(RuntimeError, match="detached"):
        job.get_status()
    info = session.reattach(job.job_id)
    assert info.was_found and info.callback_runner is None
    info.send_input_params({"a": "two"})  # numbering continues across handles
    info.send_stop_frame()
    assert info.wait_until_finished(5) and info.get_status() is JobStatus.FINISHED
    second, cb2 = collect()
    again = session.reattach(job.job_id, default_callback=cb2)
    assert again.wait_until_finished(5)
    seen = [(t[2], t[4]) for t in first + second if t[3] == "yield"]
    assert sorted(seen, key=lambda x: str(x[0])) == [(Frame([0]), "one"), (Frame([1]), "two")]
    assert any(t[2].is_stop_frame() for t in second)


def test_options_reach_target(session: Session, prepared: PreparedPipeline) -> None:
    session.execute(prepared, {"a": 1}, options={"job_timeout": 3})
    assert session.target.last_options == {"job_timeout": 3}  # type: ignore[attr-defined]


def test_context_manager_connects_and_closes(entry_points: Any) -> None:
    with Session("fakefed", "home", target="fake") as s:
        s.connect()
        assert s.target.connected == 1  # type: ignore[attr-defined]
    assert s.target.closed == 1  # type: ignore[attr-defined]
    s.close()
    assert s.target.closed == 1  # type: ignore[attr-defined]


def test_prepare_rejects_bad_restriction(session: Session) -> None:
    from dfm.api import Pipeline

    with Pipeline(api_version="1") as p:
        pass
    with pytest.raises(ValueError, match="restrict_to_sites"):
        session.prepare(p, restrict_to_sites="elsewhere")  # type: ignore[arg-type]


def test_prepared_for_other_federation_is_rejected(
    session: Session, prepared: PreparedPipeline
) -> None:
    other = prepared.model_copy(update={"federation_name": "otherfed"})
    with pytest.raises(ValueError, match="otherfed"):
        session.execute(other, {"a": 1})


def test_a_callback_checked_once_is_not_checked_again_but_a_wrong_one_always_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import inspect

    from dfm.session import _callbacks

    class Collector:
        def collect(self, site: Any, node: Any, frame: Any, place: Any, data: Any) -> None:
            pass

        def wrong(self, data: Any) -> None:
            pass

    def good(site: Any, node: Any, frame: Any, place: Any, data: Any) -> None:
        pass

    signatures = []
    real = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda f: signatures.append(f) or real(f))
    collector = Collector()
    for _ in range(3):
        _callbacks.check_callback_signature(good, "default_callback")
        _callbacks.check_callback_signature(collector.collect, "default_callback")
        _callbacks.check_callback_signature(Collector().collect, "default_callback")
    assert len(signatures) == 2  # the function, and the method's function, once each
    for _ in range(2):
        with pytest.raises(TypeError, match="cannot be called as"):
            _callbacks.check_callback_signature(collector.wrong, "default_callback")
    assert len(signatures) == 4
