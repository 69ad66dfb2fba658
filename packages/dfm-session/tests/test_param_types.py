"""Session.execute and Job.send_input_params check values against declared types first.

Nothing reaches the target when a value is wrong (issue 6, item 4): one ValueError lists
every bad value with its parameter set, place, operation parameter, the expected type
and what was given.
"""

from __future__ import annotations

from typing import Any

import pytest

from dfm.irgen import ParamCheck, PreparedPipeline
from dfm.session import JobStatus, Session


@pytest.fixture
def session(entry_points: Any) -> Session:
    return Session("fakefed", "home", target="fake")


@pytest.fixture
def typed(prepared: PreparedPipeline) -> PreparedPipeline:
    check = ParamCheck(node="ops.Scale (node 0)", parameter="k", json_schema={"type": ["integer"]})
    return prepared.model_copy(update={"param_checks": {"a": [check]}})


def test_execute_refuses_wrong_types_before_starting_anything(
    session: Session, typed: PreparedPipeline
) -> None:
    with pytest.raises(ValueError) as info:
        session.execute(typed, [{"a": 1}, {"a": 2.5}, {"a": "three"}, {"a": True}])
    assert str(info.value) == (
        "3 problems with the input parameters (nothing was sent):\n"
        "  - Parameter set 1, place 'a': ops.Scale (node 0) parameter 'k' expected integer, "
        "got float 2.5\n"
        "  - Parameter set 2, place 'a': ops.Scale (node 0) parameter 'k' expected integer, "
        "got str 'three'\n"
        "  - Parameter set 3, place 'a': ops.Scale (node 0) parameter 'k' expected integer, "
        "got bool True"
    )
    assert session.target.jobs == {}  # type: ignore[attr-defined]
    assert session.target.submitted == []  # type: ignore[attr-defined]


def test_send_input_params_refuses_wrong_types_and_burns_no_frame(
    session: Session, typed: PreparedPipeline
) -> None:
    job = session.execute(typed, {"a": 1}, autostop=False)
    with pytest.raises(ValueError, match=r"^Parameter set 1, place 'a': .* got float 2.5$"):
        job.send_input_params({"a": 2.5})
    job.send_input_params({"a": 2})
    job.send_stop_frame()
    assert job.wait_until_finished(5) and job.get_status() is JobStatus.FINISHED
    submitted = session.target.submitted  # type: ignore[attr-defined]
    assert [f.frame for f in submitted] == [(0,), (1,), "stop"]
