"""The authoring side of the trust boundary, end to end on the local target (issue 6).

A generated federation with typed parameters, a keep-on-site binding, a site whose
secrets vault cannot be created and one whose adapter class is missing.
"""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.api import Pipeline, PlaceParam, Yield
from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import load_federation_config_from_string

CONFIG = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: tbfed}
operations:
  math.Scale:
    parameters: {x: {type: number}, k: {type: integer}}
    required: [x, k]
    returns: number
  data.Records:
    parameters: {n: {type: integer}}
    required: [n]
    returns: array
  data.Count:
    parameters: {records: {type: array, accepts-literal-input: false}}
    required: [records]
    returns: integer
  data.Secret: {returns: string}
sites:
  app:
    interface:
      "#/operations/math.Scale":
        adapter: tblib.Scale
        args: from-operation
        is-async: false
        compute_cost: {fixed_time: 0.001}
      "#/operations/data.Count":
        {adapter: tblib.Count, args: from-operation, compute_cost: {fixed_time: 0.001}}
    send_cost:
      hospital: {fixed_time: 0.01}
      vaulted: {fixed_time: 0.01}
      broken: {fixed_time: 0.01}
  hospital:
    interface:
      "#/operations/data.Records":
        adapter: tblib.Records
        args: from-operation
        keep-on-site: true
        compute_cost: {fixed_time: 0.001}
      "#/operations/data.Count":
        {adapter: tblib.Count, args: from-operation, compute_cost: {fixed_time: 5}}
    send_cost: {app: {fixed_time: 0.01}}
  vaulted:
    secrets_vault: {path: tblib.NoSuchVault}
    interface:
      "#/operations/data.Secret": {adapter: tblib.Secret, args: {key: {from-secrets: KEY}}}
    send_cost: {app: {fixed_time: 0.01}}
  broken:
    interface:
      "#/operations/data.Records": {adapter: tblib.NotThere, args: from-operation}
    send_cost: {app: {fixed_time: 0.01}}
"""

TBLIB = """
class Scale:
    def body(self, x, k):
        return x * k


class Records:
    async def body(self, n):
        return [{"patient": i} for i in range(n)]


class Count:
    async def body(self, records):
        return len(records)


class Secret:
    async def body(self, key):
        return key
"""


@pytest.fixture(scope="module")
def tbfed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("tbfed")
    (root / "tblib.py").write_text(textwrap.dedent(TBLIB))
    generate_federation(load_federation_config_from_string(CONFIG), root)
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.split(".")[0] in ("tbfed", "tblib")]:
        del sys.modules[name]


def _session() -> Any:
    from dfm.session import Session

    return Session(federation_name="tbfed", homesite="app", target="local")


def test_wrong_parameter_types_fail_execute_before_anything_runs(tbfed: Path) -> None:
    from tbfed.fed.api.math import Scale  # type: ignore[import-not-found]

    with Pipeline() as p:
        Yield(value=Scale(x=PlaceParam(place="x"), k=PlaceParam(place="k")))
    with _session() as session:
        prepared = session.prepare(p)
        with pytest.raises(ValueError) as info:
            session.execute(prepared, [{"x": 1.0, "k": 2.5}, {"x": 1, "k": "three"}])
        message = str(info.value)
        assert "Parameter set 0, place 'k'" in message and "got float 2.5" in message
        assert "Parameter set 1, place 'k'" in message and "got str 'three'" in message
        assert "math.Scale (node 0) parameter 'k' expected integer" in message
        got: list[Any] = []
        job = session.execute(
            prepared, {"x": 1.5, "k": 2}, default_callback=lambda *a: got.append(a[4])
        )
        assert job.wait_until_finished(30)
        assert 3.0 in got


def test_wrong_literal_types_fail_prepare(tbfed: Path) -> None:
    from tbfed.fed.api.math import Scale

    with Pipeline() as p:
        Yield(value=Scale.model_construct(x=1.0, k=2.5))  # as a crafted JSON would
    with _session() as session, pytest.raises(ValueError, match="parameter 'k': expected integer"):
        session.prepare(p)


def test_keep_on_site_places_consumers_with_the_data(tbfed: Path) -> None:
    import tbfed.fed.runtime.hospital as hospital  # type: ignore[import-not-found]
    from tbfed.fed.api.data import Count, Records  # type: ignore[import-not-found]

    assert hospital.KEEP_ON_SITE == frozenset({"data.Records"})
    with Pipeline() as p:
        Yield(value=Count(records=Records(n=PlaceParam(place="n"))))
    with _session() as session:
        prepared = session.prepare(p)
        # Count is far cheaper on app, but the records may not leave the hospital.
        assert prepared.placement == {"node0": "hospital", "node1": "hospital"}
        got: list[Any] = []
        job = session.execute(prepared, {"n": 3}, default_callback=lambda *a: got.append(a[4]))
        assert job.wait_until_finished(30)
        assert 3 in got
    with Pipeline() as leak:
        Yield(value=Records(n=2, site="hospital"))
    with _session() as session, pytest.raises(ValueError, match="keeps its results on site"):
        session.prepare(leak)


def test_a_broken_secrets_vault_fails_the_job_with_the_reason(tbfed: Path) -> None:
    from tbfed.fed.api.data import Secret  # type: ignore[import-not-found]

    from dfm.session import JobStatus

    with Pipeline() as p:
        Yield(value=Secret(site="vaulted"))
    with _session() as session:
        prepared = session.prepare(p)
        try:
            job = session.execute(prepared, {})
        except ValueError as e:
            reason = str(e)
        else:
            assert job.wait_until_finished(30)
            assert job.get_status() is JobStatus.FAILED
            reason = " ".join(str(e) for e in job.errors)
    assert "Cannot create the secrets vault 'tblib.NoSuchVault'" in reason
    assert "no class 'NoSuchVault'" in reason


def test_a_missing_adapter_class_is_named_when_the_site_starts(tbfed: Path) -> None:
    from tbfed.fed.api.data import Records

    from dfm.session import JobStatus

    with Pipeline() as p:
        Yield(value=Records(n=1, site="broken"))
    with _session() as session:
        prepared = session.prepare(p)
        try:
            job = session.execute(prepared, {})
        except ValueError as e:
            reason = str(e)
        else:
            assert job.wait_until_finished(30)
            assert job.get_status() is JobStatus.FAILED
            reason = " ".join(str(e) for e in job.errors)
    assert "tblib.NotThere" in reason and "module 'tblib' has no class 'NotThere'" in reason
    assert "regenerate" not in reason


def _pickle_writing(target: Path) -> str:
    class Payload:
        def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
            return (Path.write_text, (target, "pwned"))

    return base64.b64encode(pickle.dumps(Payload())).decode("ascii")


def _crafted_pipeline_file(tbfed: Path, target: Path) -> Path:
    from tbfed.fed.api.math import Scale

    with Pipeline() as p:
        Yield(value=Scale(x=1.0, k=2))
    data = json.loads(p.model_dump_json())
    literal = {"tag": "__dfm__value__", "value": ["pickle", _pickle_writing(target)]}
    data["dfm_body"][0]["x"] = literal
    file = tbfed / f"crafted_{target.stem}.json"
    file.write_text(json.dumps(data))
    return file


def test_loading_and_preparing_a_crafted_pipeline_file_runs_nothing(
    tbfed: Path, tmp_path: Path
) -> None:
    target = tmp_path / "pwned.txt"
    file = _crafted_pipeline_file(tbfed, target)
    pipeline = Pipeline.load_from_file(file)
    with _session() as session:
        prepared = session.prepare(pipeline)
    call = prepared.net_irs()["app"].transitions[0].body[0]
    assert call.literal_params["x"][0] == "pickle"  # passed through for the site to decide
    assert not target.exists()


def test_dfm_run_on_a_crafted_pipeline_file_fails_and_runs_nothing(
    tbfed: Path, tmp_path: Path
) -> None:
    target = tmp_path / "pwned.txt"
    file = _crafted_pipeline_file(tbfed, target)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dfm.api._cli import main; sys.exit(main())",
            "run",
            str(file),
            "--federation",
            "tbfed",
            "--homesite",
            "app",
            "--target",
            "local",
            "--timeout",
            "30",
        ],
        cwd=tbfed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not target.exists()
    assert done.returncode != 0
    assert "pickle" in done.stdout + done.stderr
