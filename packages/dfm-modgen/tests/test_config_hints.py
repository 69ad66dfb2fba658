"""Unknown-key hints, cost bounds, reserved provider names, and docs/config.md facts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dfm.modgen.config import ConfigError, load_federation_config_from_string

DOC = Path(__file__).resolve().parents[3] / "docs" / "config.md"
HEAD = (
    "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: hintfed}\n"
    "operations: {a.Op: {returns: x, parameters: {p: {}}}}\n"
)
BINDING = 'sites.s.interface["#/operations/a.Op"]'


def _one(text: str) -> tuple[str, str]:
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_string(text)
    [issue] = exc.value.issues
    return issue.path_str, issue.message


def _binding(body: str) -> str:
    return (
        HEAD
        + "sites: {s: {interface: {'#/operations/a.Op': "
        + f"{{adapter: a.B, args: from-operation, {body}}}}}}}}}\n"
    )


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (
            _binding("compute_cost: {bandwidth: 3}"),
            f"{BINDING}.compute_cost",
            "unknown key 'bandwidth' (bandwidth is a send_cost key)",
        ),
        (
            HEAD + "sites: {s: {send_cost: {t: {fixed_size: 1}}}}\n",
            "sites.s.send_cost.t",
            "unknown key 'fixed_size' (fixed_size is a compute_cost key)",
        ),
        (
            HEAD + "sites: {s: {send_cost: {t: {bandwith: 1}}}}\n",
            "sites.s.send_cost.t",
            "unknown key 'bandwith' (did you mean 'bandwidth'?)",
        ),
        (
            _binding("send-cost: {}"),
            BINDING,
            "unknown key 'send-cost' (send_cost is a site key)",
        ),
        (
            _binding("compute_cost: {fixed_tim: 3}"),
            f"{BINDING}.compute_cost",
            "unknown key 'fixed_tim' (did you mean 'fixed_time'?)",
        ),
        (
            _binding("is-asnyc: true"),
            BINDING,
            "unknown key 'is-asnyc' (did you mean 'is-async'?)",
        ),
        (
            HEAD + "sites: {s: {fixed_time: 1}}\n",
            "sites.s",
            "unknown key 'fixed_time' (fixed_time is a send_cost or compute_cost key)",
        ),
        (
            HEAD + "sites: {s: {providers: {p: {send_cost: {}}}}}\n",
            "sites.s.providers.p",
            "unknown key 'send_cost' (send_cost is a site key)",
        ),
        (
            HEAD + "code-package: x\n",
            "<root>",
            "unknown key 'code-package' (code-package is an info key)",
        ),
        (
            HEAD + "operation: {}\n",
            "<root>",
            "unknown key 'operation' (did you mean 'operations'?)",
        ),
        (HEAD + "sites: {s: {description: x}}\n", "sites.s", "unknown key 'description'"),
        (HEAD + "params: {}\n", "<root>", "unknown key 'params'"),
        (HEAD + "defs: {}\n", "<root>", "unknown key 'defs'"),
        (
            _binding("compute_cost: {bandwith: 3}"),
            f"{BINDING}.compute_cost",
            "unknown key 'bandwith' (bandwidth is a send_cost key)",
        ),
        (
            HEAD.replace("{p: {}}", "{p: {enun: [1]}}"),
            'operations["a.Op"].parameters.p',
            "unknown key 'enun' (did you mean 'enum'?)",
        ),
    ],
)
def test_unknown_key_hints(text: str, path: str, message: str) -> None:
    assert _one(text) == (path, message)


@pytest.mark.parametrize(
    ("cost", "key", "message"),
    [
        ("fixed_time: -5", "fixed_time", "must be >= 0, got -5"),
        ("fixed_time: .nan", "fixed_time", "must be a finite number, got nan"),
        ("compute_throughput: 0", "compute_throughput", "must be > 0 (input bytes per second;"),
        ("compute_throughput: -1", "compute_throughput", "must be > 0 (input bytes per second;"),
        ("fixed_size: -1", "fixed_size", "must be >= 0, got -1"),
        ("output_factor: -0.5", "output_factor", "must be >= 0, got -0.5"),
    ],
)
def test_impossible_compute_costs(cost: str, key: str, message: str) -> None:
    path, text = _one(_binding(f"compute_cost: {{{cost}}}"))
    assert path == f"{BINDING}.compute_cost.{key}"
    assert text.startswith(message)


@pytest.mark.parametrize(
    ("cost", "key", "message"),
    [
        ("fixed_time: -0.1", "fixed_time", "must be >= 0, got -0.1"),
        ("fixed_time: .inf", "fixed_time", "must be a finite number, got inf"),
        ("bandwidth: 0", "bandwidth", "must be > 0 (bytes per second;"),
    ],
)
def test_impossible_send_costs(cost: str, key: str, message: str) -> None:
    path, text = _one(HEAD + f"sites: {{s: {{send_cost: {{t: {{{cost}}}}}}}}}\n")
    assert path == f"sites.s.send_cost.t.{key}"
    assert text.startswith(message)


def test_possible_costs_are_accepted() -> None:
    config = load_federation_config_from_string(
        HEAD
        + """
sites:
  s:
    send_cost: {t: {fixed_time: 0, bandwidth: null}, u: {bandwidth: 1}}
    interface:
      "#/operations/a.Op":
        adapter: a.B
        args: from-operation
        compute_cost: {fixed_time: 0, compute_throughput: null, fixed_size: 0, output_factor: 0}
"""
    )
    site = config.sites["s"]
    assert site.send_cost["u"].bandwidth == 1
    cost = site.interface["a.Op"].compute_cost
    assert cost is not None and cost.compute_throughput is None


@pytest.mark.parametrize("name", ["site_name", "impl_args"])
def test_site_attributes_are_no_provider_names(name: str) -> None:
    path, message = _one(HEAD + f"sites: {{s: {{providers: {{{name}: {{}}}}}}}}\n")
    assert path == f"sites.s.providers.{name}"
    assert "site's own attributes" in message


def _table_row(key: str) -> str:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith(f"| `{key}`")]
    assert rows, key
    return rows[0]


def test_doc_says_an_operation_needs_returns() -> None:
    row = _table_row("returns")  # the first one is the operation's
    assert "| yes |" in row and "documentation only" not in row
    _one(HEAD.replace("{returns: x, ", "{"))  # and the loader agrees


def test_doc_lists_the_site_attributes_adapters_can_use() -> None:
    site = pytest.importorskip("dfm.runtime").Site
    row = _table_row("{from-site: attr}")
    named = set(re.findall(r"`(\w+)`", row)) - {"attr", "impl"}
    assert {"site_name", "federation_name", "api_version"} <= named
    assert all(hasattr(site, attr) for attr in named)
    assert "`site.site_name`" in DOC.read_text()
