from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from dfm.api import ErrorInfo, ErrorToken, FedInfo, Frame, StopToken
from dfm.session import JobStatus, clear_target_cache
from dfm.session._cli import run_command, show_command, targets_command
from dfm.session._cli_inputs import (
    CliError,
    find_federation,
    find_homesite,
    parse_params,
    read_json_file,
)
from dfm.session._cli_output import Progress, TokenPrinter, json_value


def test_targets_lists_name_distribution_version(
    entry_points: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert targets_command([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "DISTRIBUTION", "VERSION"]
    assert out[1].split() == ["fake", "dfm-target-fake", "1.2"]


def test_targets_flags_duplicates(entry_points: Any, capsys: pytest.CaptureFixture[str]) -> None:
    fake = entry_points[0]
    entry_points.append(type(fake)("fake", "x:T", type(fake.dist)("other", "3"), None))
    clear_target_cache()
    assert targets_command([]) == 1
    assert "DUPLICATE" in capsys.readouterr().out


def test_help_is_first_docstring_line() -> None:
    assert (run_command.__doc__ or "").splitlines()[0].startswith("Run a saved pipeline")
    assert (show_command.__doc__ or "").splitlines()[0].startswith("Draw a pipeline's placement")
    assert (targets_command.__doc__ or "").splitlines()[0].startswith("List the installed")


def test_run_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(["--help"]) == 0
    assert "--format {json,text}" in capsys.readouterr().out
    assert run_command([]) == 2
    assert run_command(["p.json", "--format", "xml"]) == 2


# -- bad inputs: one clear line each, exit code 2 ------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "pipeline file '{path}' not found (save a pipeline with pipeline.save_to_file"),
        ("{nope", "'{path}' is not JSON (line 1, column 2: Expecting property name"),
        ("[1, 2]", "'{path}' is not a DFM pipeline (a JSON object)"),
    ],
)
def test_a_bad_pipeline_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    assert run_command([str(path), "--federation", "f", "--homesite", "h"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dfm run: error: ") and err.count("\n") == 1, err
    assert expected.format(path=path) in err
    assert "Traceback" not in err


def test_a_folder_is_not_a_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert show_command([str(tmp_path)]) == 2
    assert "is a folder, not a pipeline file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{nope", "--params is not JSON (Expecting property name"),
        ("3", "--params must be a JSON object (one parameter set) or a list of objects"),
        ('[{"a": 1}, 2]', "--params must be a JSON object"),
    ],
)
def test_bad_params(text: str, expected: str) -> None:
    with pytest.raises(CliError) as e:
        parse_params(text)
    assert expected in str(e.value)


def test_good_params() -> None:
    assert parse_params('{"a": 1}') == {"a": 1}
    assert parse_params('[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]


def test_run_names_a_missing_federation_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = tmp_path / "p.json"
    pipeline.write_text('{"dfm_body": []}')
    code = run_command([str(pipeline), "--federation", "no_such_fed_pkg", "--homesite", "a"])
    assert code == 2
    assert "federation package 'no_such_fed_pkg' not found" in capsys.readouterr().err


# -- finding the federation and the homesite -----------------------------------------

BODY = {
    "dfm_body": [
        {"dfm_class_name": "meteo.fed.api.data.LoadReadings"},
        {"dfm_class_name": "dfm.api.Yield"},
    ]
}


def write_fed(folder: Path, name: str) -> None:
    runtime = folder / name / "fed" / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "fed_info.json").write_text("{}")


def test_the_federation_comes_from_the_pipeline(tmp_path: Path) -> None:
    assert find_federation(None, BODY, tmp_path) == "meteo"
    assert find_federation("meteo", BODY, tmp_path) == "meteo"
    with pytest.raises(CliError, match="uses operations of 'meteo', not of federation 'json'"):
        find_federation("json", BODY, tmp_path)
    two = {"dfm_body": [*BODY["dfm_body"], {"dfm_class_name": "other.fed.api.X"}]}
    with pytest.raises(CliError, match=r"several federations \(meteo, other\)"):
        find_federation(None, two, tmp_path)


def test_else_from_the_working_directory(tmp_path: Path) -> None:
    empty: dict[str, Any] = {"dfm_body": []}
    with pytest.raises(CliError, match="cannot tell the federation; pass --federation NAME"):
        find_federation(None, empty, tmp_path)
    write_fed(tmp_path, "alpha")
    assert find_federation(None, empty, tmp_path) == "alpha"
    write_fed(tmp_path, "beta")
    with pytest.raises(CliError, match=r"\(found here: alpha, beta\); pass --federation"):
        find_federation(None, empty, tmp_path)


def fed_info(sites: dict[str, bool]) -> FedInfo:
    """Sites; True = it offers an operation."""
    return FedInfo.model_validate(
        {
            "sites": {
                name: {"interface": {"ops.X": {"operation": "ops.X"}} if ops else {}}
                for name, ops in sites.items()
            }
        }
    )


def test_the_homesite_is_the_only_site_or_the_only_bare_one() -> None:
    assert find_homesite(None, "f", fed_info({"solo": True})) == "solo"
    assert find_homesite(None, "f", fed_info({"app": False, "a": True, "b": True})) == "app"
    assert find_homesite("a", "f", fed_info({"app": False, "a": True})) == "a"
    with pytest.raises(CliError, match="pass --homesite, one of a, b"):
        find_homesite(None, "f", fed_info({"a": True, "b": True}))
    with pytest.raises(CliError, match="--homesite 'x' is not a site of federation 'f'"):
        find_homesite("x", "f", fed_info({"a": True}))


def test_read_json_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"dfm_body": []}')
    assert read_json_file(str(path)) == {"dfm_body": []}


# -- output -----------------------------------------------------------------------------


def test_json_values() -> None:
    error = ErrorToken(
        errors=[ErrorInfo(type="E", message="m", node_id=3, site="s", operation="stats.Mean")]
    )
    assert json_value(StopToken()) == {"token": "StopToken"}
    assert json_value(error) == {
        "token": "ErrorToken",
        "errors": [
            {
                "type": "E",
                "message": "m",
                "node_id": 3,
                "site": "s",
                "operation": "stats.Mean",
                "where": "stats.Mean (node 3) on s",
            }
        ],
    }
    assert json_value((1, {2: b"hi"}, {3})) == [1, {"2": {"bytes_base64": "aGk="}}, [3]]
    assert [json_value(v) for v in (math.nan, math.inf, -math.inf)] == [
        "NaN",
        "Infinity",
        "-Infinity",
    ]
    assert json_value(object)["repr"] == "<class 'object'>"


def test_json_lines() -> None:
    out = io.StringIO()
    printer = TokenPrinter("json", out, operations={1: "stats.Mean"})
    printer("north", 1, Frame.start_frame(0), "mean", 4.5)
    printer("app", None, Frame.stop_frame(), "_dfm_status_", StopToken())
    printer.finish("j1", JobStatus.FINISHED, [])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {
            "site": "north",
            "node": 1,
            "operation": "stats.Mean",
            "frame": [0],
            "place": "mean",
            "data": 4.5,
        },
        {
            "site": "app",
            "node": None,
            "operation": None,
            "frame": "stop",
            "place": "_dfm_status_",
            "data": {"token": "StopToken"},
        },
        {"job": "j1", "status": "FINISHED", "errors": []},
    ]


def test_text_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = TokenPrinter("text", out, err, operations={1: "stats.Mean"})
    printer("north", 1, Frame.start_frame(0), "mean", 4.5)
    printer("south", 7, Frame.start_frame(1), "other", 1)
    printer("east", None, Frame.start_frame(1), "_dfm_status_", StopToken())
    printer.finish("j1", JobStatus.FAILED, ["site north died"], note="timed out")
    lines = out.getvalue().splitlines()
    assert lines == [
        "stats.Mean (node 1) on north\t[0]\tmean\t4.5",
        "(node 7) on south\t[1]\tother\t1",
        "east\t[1]\t_dfm_status_\tStopToken",
        "timed out",
        "Job j1: FAILED",
    ]
    assert err.getvalue() == "  site north died\n"


def test_progress_counts_frames_and_results() -> None:
    progress = Progress(3, io.StringIO())
    progress.count("mean", Frame.start_frame(0))
    progress.count("_dfm_status_", Frame.start_frame(0))
    progress.count("_dfm_status_", Frame.stop_frame())
    assert progress.line().startswith("dfm run: 1/3 parameter set(s) done, 1 result(s), ")


def test_progress_is_printed_while_the_job_runs() -> None:
    import threading

    class Out(io.StringIO):
        wrote = threading.Event()

        def write(self, text: str) -> int:
            Out.wrote.set()
            return super().write(text)

    out = Out()
    progress = Progress(2, out, delay=0.0, interval=0.01)
    progress.start()
    assert Out.wrote.wait(10)  # bounded: the thread writes at once with delay=0
    progress.stop()
    assert "0/2 parameter set(s) done" in out.getvalue()
