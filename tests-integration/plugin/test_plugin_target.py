"""A real third-party target distribution, installed for real, is found by DFM.

tests-integration/plugins/dfm-target-echo is a separate distribution (own top-level
module ``dfm_target_echo``, ranged dependency on dfm-session) registering ``echo``
under ``dfm.targets``. The ``integration`` hatch environment installs it (and only that
environment): run these tests with ``hatch run integration:run``. They check it from
fresh processes, as users would.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

DIST = "dfm-target-echo"


@pytest.fixture(scope="module")
def echo_installed() -> None:
    try:
        metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        pytest.fail(
            f"{DIST} is not installed: these tests run in the integration environment, "
            "`hatch run integration:run`, which installs tests-integration/plugins/*"
        )


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


SESSION_SCRIPT = textwrap.dedent(
    """
    from dfm.api import STATUS_PLACE_NAME
    from dfm.irgen import InPlace, NetIR, PreparedPipeline, Transition
    from dfm.session import Session, find_target

    entry = find_target("echo")
    assert (entry.distribution, entry.version) == ("dfm-target-echo", "0.1.0"), entry
    session = Session("echofed", "home", target="echo", greeting="hi")
    assert type(session.target).__module__ == "dfm_target_echo", type(session.target)
    netir = NetIR(
        site="home", homesite="home", federation_name="echofed",
        transitions=[
            Transition(name="t0", inputs=[InPlace(name="p", kind="control", origin="external")])
        ],
        external={"__start_place__": ["p"], "name": ["p"]},
    )
    prepared = PreparedPipeline(
        federation_name="echofed", homesite="home", net_irs_by_site={"home": netir},
        param_places=["name"], status_site="home",
    )
    got = []
    params = [{"name": "Ada"}, {"name": "Bob"}]
    job = session.execute(prepared, params, default_callback=lambda *a: got.append(a))
    assert job.wait_until_finished(10), job.get_status()
    print(job.get_status().name)
    print(sorted(str(a[4]) for a in got if a[3] == "yield"))
    try:
        Session("echofed", "home", target="echo", colour="red")
    except TypeError as e:
        print("TypeError:", e)
    """
)


def test_session_finds_and_runs_the_installed_target(echo_installed: None) -> None:
    done = _run(sys.executable, "-c", SESSION_SCRIPT, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "FINISHED"
    assert lines[1] == "[\"('hi', {'name': 'Ada'})\", \"('hi', {'name': 'Bob'})\"]"
    assert "colour" in lines[2] and "accepted options: greeting" in lines[2]


def test_dfm_targets_lists_it(echo_installed: None) -> None:
    done = _run(
        sys.executable,
        "-c",
        "import sys; from dfm.api._cli import main; sys.exit(main(['targets']))",
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["echo", "dfm-target-echo", "0.1.0"] in rows
    assert ["local", "dfm-target-local"] == rows[[r[0] for r in rows].index("local")][:2]


def test_unknown_target_names_the_installed_ones(echo_installed: None) -> None:
    script = "from dfm.session import Session\nSession('f', 'h', target='nope')"
    done = _run(sys.executable, "-c", script, timeout=120)
    assert done.returncode != 0
    assert "TargetNotFoundError" in done.stderr
    assert (
        "echo (dfm-target-echo 0.1.0)" in done.stderr
        and "pip install dfm-target-nope" in done.stderr
    )
