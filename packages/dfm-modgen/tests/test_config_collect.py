"""Every mistake of a config is reported in one ConfigError, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dfm.modgen.config import (
    ConfigError,
    ParameterSpec,
    load_federation_config,
    load_federation_config_from_string,
)

WriteFiles = Callable[[Path, dict[str, str]], None]

HEAD = "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: allfed}\n"


def _issues(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_string(text)
    return [(i.path_str, i.message) for i in exc.value.issues]


MANY = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: allfed}
operations:
  users.GreetMe:
    descripton: typo in the operation itself
    parameters:
      name: {type: string}
      style: {type: strng}
    returns: string
  users.Other:
    parameters: {x: {}}
sites:
  a-b:
    interface:
      "#/operations/users.GreetMe":
        adapter: pkg.Greeter
        is-async: "maybe"
        args:
          who: {from-param: nam}
          how: {from-param: style}
  reception:
    providers:
      site:
        interface:
          "#/operations/users.Other": {adapter: pkg.Other, is_async: sometimes, args: {}}
    interface:
      users.Other:
        adapter: pkg.Other
        compute_cost: {fixed_time: -5}
    send_cost:
      a: {bandwidth: 0}
"""

GREET = 'sites.a-b.interface["#/operations/users.GreetMe"]'
EXPECTED = [
    ('operations["users.GreetMe"].parameters.style.type', "unknown type 'strng'"),
    ('operations["users.GreetMe"]', "unknown key 'descripton' (did you mean 'description'?)"),
    ('operations["users.Other"]', "missing required key 'returns'"),
    ("sites.a-b", "Site name 'a-b' is not usable: the part before '@' ('a-b') must be a Python"),
    (f"{GREET}.args.who.from-param", "operation 'users.GreetMe' has no parameter 'nam'"),
    (f"{GREET}.is-async", "expected true or false, got 'maybe'"),
    ("sites.reception.providers.site", "provider name 'site' must be a Python identifier"),
    (
        'sites.reception.providers.site.interface["#/operations/users.Other"].is_async',
        "expected true or false, got 'sometimes'",
    ),
    ('sites.reception.interface["users.Other"]', "interface keys must be '#/operations/"),
    ('sites.reception.interface["users.Other"].compute_cost.fixed_time', "must be >= 0, got -5"),
    ("sites.reception.send_cost.a.bandwidth", "must be > 0 (bytes per second;"),
]


def test_every_independent_mistake_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "many.dfm.yaml"
    path.write_text(MANY)
    with pytest.raises(ConfigError) as exc:
        load_federation_config(path)
    issues = exc.value.issues
    assert len(issues) == len(EXPECTED), "\n".join(map(str, issues))
    for issue, (where, message) in zip(issues, EXPECTED, strict=True):
        assert (issue.path_str, issue.message[: len(message)]) == (where, message)
        assert issue.file == path
    assert len({(i.path, i.message) for i in issues}) == len(issues)
    assert str(exc.value).startswith(f"invalid federation config ({len(EXPECTED)} issues):")


def test_mistakes_in_a_referenced_file_are_reported_with_the_rest(
    tmp_path: Path, write_files: WriteFiles
) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD + "operations: {a.Op: {returns: x, parameters: {p: {}}, typo: 1}}\n"
            'sites: {s: {interface: {$ref: ["iface.yaml#/i"]}}}\n',
            "iface.yaml": 'i:\n  "#/operations/a.Op":\n    adapter: a.B\n    is-async: maybe\n'
            "    args: {x: {from-param: q}}\n",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(tmp_path / "main.yaml")
    found = [(i.file.name if i.file else None, i.path_str, i.message) for i in exc.value.issues]
    found[0] = (*found[0][:2], found[0][2].split(" (")[0])
    binding = 'i["#/operations/a.Op"]'
    used = " (used as sites.s.interface via $ref from main.yaml)"
    assert found == [
        ("main.yaml", 'operations["a.Op"]', "unknown key 'typo'"),
        (
            "iface.yaml",
            f"{binding}.args.x.from-param",
            "operation 'a.Op' has no parameter 'q'" + used,
        ),
        ("iface.yaml", f"{binding}.is-async", "expected true or false, got 'maybe'" + used),
    ]


@pytest.mark.parametrize(
    ("operations", "binding", "expected"),
    [
        # The operation cannot be read: its parameters are unknown, not checked.
        (
            "{a.Op: {$ref: '#/nowhere'}}",
            "{adapter: a.B, args: {x: {from-param: p}}}",
            ['operations["a.Op"]["$ref"]'],
        ),
        ("{a.Op: [1]}", "{adapter: a.B, args: {x: {from-param: p}}}", ['operations["a.Op"]']),
        (
            "{a.Op: {returns: x, parameters: [p]}}",
            "{adapter: a.B, args: {x: {from-param: p}, y: {const: 1, expose-as: "
            "{param: p, type: string}}}}",
            ['operations["a.Op"].parameters'],
        ),
        (
            "{a.Op: {returns: x, parameters: {$ref: ['#/nowhere']}}}",
            "{adapter: a.B, args: {x: {from-param: p}}}",
            ['operations["a.Op"].parameters["$ref"][0]'],
        ),
        (
            "{a.Op: {returns: x, parameters: {p: {}}, properties: {q: {}}}}",
            "{adapter: a.B, args: {x: {from-param: q}}}",
            ['operations["a.Op"]'],
        ),
        # A declared parameter with a mistake of its own is still declared.
        (
            "{a.Op: {returns: x, parameters: {p: {type: strng}}}}",
            "{adapter: a.B, args: {x: {from-param: p}}}",
            ['operations["a.Op"].parameters.p.type'],
        ),
        (
            "{a.Op: {returns: x, parameters: {site: {}}}}",
            "{adapter: a.B, args: {x: {from-param: site}}}",
            ['operations["a.Op"].parameters.site'],
        ),
        # operations: could not be read whole: an unknown interface key is no news.
        ("{$ref: ['#/nowhere']}", "{adapter: a.B}", ['operations["$ref"][0]']),
    ],
)
def test_no_follow_on_noise(operations: str, binding: str, expected: list[str]) -> None:
    text = (
        HEAD
        + f"operations: {operations}\n"
        + (f"sites: {{s: {{interface: {{'#/operations/a.Op': {binding}}}}}}}\n")
    )
    assert [path for path, _ in _issues(text)] == expected


def test_broken_providers_do_not_make_from_provider_noise() -> None:
    text = HEAD + (
        "operations: {a.Op: {returns: x}}\n"
        "sites: {s: {providers: {$ref: ['#/nowhere']}, interface: {'#/operations/a.Op': "
        "{adapter: a.B, args: {x: {from-provider: p.attr}}}}}}\n"
    )
    assert [path for path, _ in _issues(text)] == ['sites.s.providers["$ref"][0]']


def test_a_wrong_name_does_not_hide_the_body() -> None:
    text = HEAD + (
        "schemas: {Bad-Name: {$ref: '#/nowhere'}}\n"
        "operations:\n"
        "  a.Op-x: {returns: x, typo: 1}\n"
        "  b.Op:\n"
        "    returns: x\n"
        "    parameters: {class: {type: strng}, s: {$ref: '#/schemas/Bad-Name'}}\n"
    )
    assert [path for path, _ in _issues(text)] == [
        "schemas.Bad-Name",
        'schemas.Bad-Name["$ref"]',
        'operations["a.Op-x"]',
        'operations["a.Op-x"]',
        'operations["b.Op"].parameters.class',
        'operations["b.Op"].parameters.class.type',
    ]


def test_parameter_cross_checks_run_beside_field_errors() -> None:
    spec = (
        "{type: strng, accepts-literal-input: false, accepts-node-input: false, "
        "accepts_place_input: false}"
    )
    issues = _issues(HEAD + f"operations: {{a.Op: {{returns: x, parameters: {{p: {spec}}}}}}}\n")
    assert [(p, m[:26]) for p, m in issues] == [
        ('operations["a.Op"].parameters.p.type', "unknown type 'strng' (did "),
        ('operations["a.Op"].parameters.p', "the parameter accepts noth"),
    ]


def test_parameter_cross_checks_still_apply_to_direct_validation() -> None:
    flags = {"accepts-literal-input": False, "accepts-node-input": False}
    with pytest.raises(ValueError, match="accepts nothing"):
        ParameterSpec.model_validate({**flags, "accepts-place-input": False})
    with pytest.raises(ValueError, match="not both"):
        ParameterSpec.model_validate({"$ref": "#/schemas/A", "type": "string"})
    assert ParameterSpec.model_validate(flags).accepts_place_input
