"""Parameter values are checked against the operations' declared schemas (issue 6, item 4).

Literals at ``prepare()``, place parameters in ``check_input_params`` (which
``Session.execute`` and ``Job.send_input_params`` call before anything is sent); one
``ValueError`` lists every bad value.
"""

from __future__ import annotations

from typing import Any

import pytest

from dfm.api import Advise, FedInfo, Frame, Pipeline, PlaceParam, Yield
from dfm.irgen import ParamCheck, PreparedPipeline, prepare

OPS = ("ops.Echo", "ops.Concat", "ops.Scale")


def _fed(fed_info_of: Any) -> FedInfo:
    info: FedInfo = fed_info_of({"app": 5, "s1": 1}, ops=OPS)
    return info


def _sets(*values: dict[str, Any]) -> list[tuple[Frame, dict[str, Any]]]:
    return [(Frame.start_frame(i), v) for i, v in enumerate(values)]


def test_literals_of_the_wrong_type_fail_prepare_with_every_problem(fed_info_of: Any) -> None:
    from irgentestops import Scale

    with Pipeline() as p:
        Yield(value=Scale(k=2.5, tags=["a", 3], mode="slow"))
        Yield(value=Scale(k=True, factor="x"), place="two")
    with pytest.raises(ValueError) as info:
        prepare(p, _fed(fed_info_of), "app", "fed")
    message = str(info.value)
    assert message.startswith("5 literal parameters do not match their declared types:")
    for part in (
        "ops.Scale (node 0) parameter 'k': expected integer, got float 2.5",
        "ops.Scale (node 0) parameter 'tags': [1]: expected string, got int 3",
        "ops.Scale (node 0) parameter 'mode': expected one of 'fast', 'exact', got str 'slow'",
        "ops.Scale (node 2) parameter 'k': expected integer, got bool True",
        "ops.Scale (node 2) parameter 'factor': expected number or null, got str 'x'",
    ):
        assert part in message, message


def test_good_literals_pass(fed_info_of: Any) -> None:
    from irgentestops import Scale

    with Pipeline() as p:
        Yield(value=Scale(k=3, factor=2, tags=("a",), mode=None, blob={1: object}))
        Yield(value=Scale(k=1, factor=Advise()), place="advised")
    prepare(p, _fed(fed_info_of), "app", "fed")


def test_place_params_carry_the_schemas_of_the_parameters_they_feed(fed_info_of: Any) -> None:
    from irgentestops import Concat, Scale

    with Pipeline() as p:
        s = Scale(k=PlaceParam(place="k", multiuse=True), tags=PlaceParam(place="tags"))
        Yield(value=s)
        Yield(value=Scale(k=PlaceParam(place="k", multiuse=True)), place="again")
        Yield(value=Concat(a=PlaceParam(place="free")), place="free_out")
    prepared = prepare(p, _fed(fed_info_of), "app", "fed")
    checks = prepared.param_checks
    assert sorted(checks) == ["k", "tags"]  # "free" feeds an undeclared (any) parameter
    assert checks["k"] == [
        ParamCheck(node="ops.Scale (node 0)", parameter="k", json_schema={"type": ["integer"]}),
        ParamCheck(node="ops.Scale (node 2)", parameter="k", json_schema={"type": ["integer"]}),
    ]
    back = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert back.param_checks == checks
    with pytest.raises(ValueError, match="expected integer"):
        back.check_input_params(_sets({"k": 1.5, "tags": None, "free": "x"}))


def test_bad_place_params_are_all_reported_at_once(fed_info_of: Any) -> None:
    from irgentestops import Scale

    with Pipeline() as p:
        Yield(value=Scale(k=PlaceParam(place="k"), tags=PlaceParam(place="tags")))
    prepared = prepare(p, _fed(fed_info_of), "app", "fed")
    prepared.check_input_params(_sets({"k": 1, "tags": ["a"]}, {"k": 2, "tags": None}))
    with pytest.raises(ValueError) as info:
        prepared.check_input_params(
            _sets({"k": 2.5, "tags": ["a"]}, {"k": 1, "tags": None}, {"k": "three", "tags": [3]})
        )
    message = str(info.value)
    assert message == (
        "3 problems with the input parameters (nothing was sent):\n"
        "  - Parameter set 0, place 'k': ops.Scale (node 0) parameter 'k' expected integer, "
        "got float 2.5\n"
        "  - Parameter set 2, place 'k': ops.Scale (node 0) parameter 'k' expected integer, "
        "got str 'three'\n"
        "  - Parameter set 2, place 'tags': ops.Scale (node 0) parameter 'tags' [0]: expected "
        "string, got int 3"
    )


def test_one_problem_reads_as_one_sentence(fed_info_of: Any) -> None:
    from irgentestops import Scale

    with Pipeline() as p:
        Yield(value=Scale(k=PlaceParam(place="k")))
    prepared = prepare(p, _fed(fed_info_of), "app", "fed")
    with pytest.raises(ValueError) as info:
        prepared.check_input_params([(Frame.start_frame(4), {"k": False})])
    assert str(info.value) == (
        "Parameter set 4, place 'k': ops.Scale (node 0) parameter 'k' expected integer, "
        "got bool False"
    )


def test_missing_places_and_wrong_types_are_reported_together(fed_info_of: Any) -> None:
    from irgentestops import Scale

    with Pipeline() as p:
        Yield(value=Scale(k=PlaceParam(place="k"), tags=PlaceParam(place="tags")))
    prepared = prepare(p, _fed(fed_info_of), "app", "fed")
    with pytest.raises(ValueError) as info:
        prepared.check_input_params(_sets({"k": 1.5}))
    message = str(info.value)
    assert message.startswith("2 problems with the input parameters")
    assert "Parameter set 0 is missing" in message and "['tags']" in message
    assert "expected integer, got float 1.5" in message


def test_old_prepared_pipelines_without_checks_still_load(fed_info_of: Any) -> None:
    from irgentestops import Scale

    with Pipeline() as p:
        Yield(value=Scale(k=PlaceParam(place="k")))
    data = prepare(p, _fed(fed_info_of), "app", "fed").model_dump(mode="json")
    del data["param_checks"]
    old = PreparedPipeline.model_validate(data)
    old.check_input_params(_sets({"k": "anything goes"}))
