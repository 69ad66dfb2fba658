"""Config mistakes: each is reported once, with its file, path and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dfm.modgen.config import (
    ConfigError,
    ConfigIssue,
    format_path,
    load_federation_config,
    load_federation_config_from_string,
)

HEAD = "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: errfed}\n"
OPS = """
operations:
  users.GreetMe:
    parameters: {name: {type: string}}
    required: [name]
    returns: string
"""


def _issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_string(text)
    return exc.value.issues


def _one(text: str) -> ConfigIssue:
    issues = _issues(text)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def _site(binding: str, extra_ops: str = "") -> str:
    return (
        HEAD
        + OPS
        + extra_ops
        + f"""
sites:
  s:
    providers: {{prov: {{}}}}
    interface:
      "#/operations/users.GreetMe": {binding}
"""
    )


def test_five_mistakes_give_five_issues(tmp_path: Path) -> None:
    path = tmp_path / "five.dfm.yaml"
    path.write_text(
        """
dfm: 1.0.0
info:
  api-version: "1.0"
  code-package: fivefed
operations:
  users.GreetMe:
    descripton: typo
    parameters:
      name: {type: string}
    returns: string
sites:
  reception:
    interface:
      "#/operations/users.GreetMe":
        adapter: pkg.Greeter
        args:
          name: {from-param: name}
          venue: {from-sight: federation_name}
  server:
    interface:
      "users.GreetMe": {adapter: pkg.Greeter}
      "#/operations/users.GreetMe":
        adapter: pkg.Greeter
        args: from-operation
        is-async: perhaps
"""
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(path)
    issues = exc.value.issues
    assert [i.path_str for i in issues] == [
        "info.api-version",
        'operations["users.GreetMe"]',
        'sites.reception.interface["#/operations/users.GreetMe"].args.venue',
        'sites.server.interface["users.GreetMe"]',
        'sites.server.interface["#/operations/users.GreetMe"].is-async',
    ]
    assert [i.message for i in issues] == [
        "must be a version of the form X.Y.Z (like 1.0.0), got '1.0'",
        "unknown key 'descripton' (did you mean 'description'?)",
        "expected one of from-param, const, from-secrets, from-provider, from-site; "
        "found from-sight",
        "interface keys must be '#/operations/<operation name>' (or a '$ref' list of "
        "mappings with such keys), got 'users.GreetMe'",
        "expected true or false, got 'perhaps'",
    ]
    assert all(i.file == path for i in issues)
    text = str(exc.value)
    assert text.startswith("invalid federation config (5 issues):")
    for issue in issues:
        assert str(issue) in text


def test_exactly_five(tmp_path: Path) -> None:
    issues = _issues(
        """
dfm: 1.0.0
info: {api-version: 1.0, code-package: my.fed}
operations:
  users.GreetMe: {parameters: {name: {type: string}}, returns: string, type: array}
sites:
  a-b: {}
  ok:
    interface:
      "#/operations/users.GreetMe":
        adapter: pkg.A
        args: {name: "justastring"}
"""
    )
    assert [(i.path_str, i.message[:30]) for i in issues] == [
        ("info.api-version", "must be a version of the form "),
        ("info.code-package", "must be a Python identifier (l"),
        ('operations["users.GreetMe"].type', "expected 'object', got 'array'"),
        ("sites.a-b", "Site name 'a-b' is not usable:"),
        (
            'sites.ok.interface["#/operations/users.GreetMe"].args.name',
            "an argument source must be a m",
        ),
    ]


def test_issue_rendering() -> None:
    assert format_path(()) == "<root>"
    assert format_path(
        ("sites", "reception", "interface", "#/operations/users.GreetMe", "args", "venue")
    ) == ('sites.reception.interface["#/operations/users.GreetMe"].args.venue')
    assert format_path(("operations", "a.b", "required", 2)) == 'operations["a.b"].required[2]'
    issue = ConfigIssue(Path("f.yaml"), ("info", "api-version"), "bad")
    assert str(issue) == "f.yaml: info.api-version: bad"
    assert str(ConfigIssue(None, (), "bad")) == "bad"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("- a\n- b\n", "", "must be a mapping"),
        ("dfm: [1\n", "", "invalid YAML"),
        ("dfm: 1.0.0\ndfm: 1.0.0\n", "", "found the key 'dfm' twice"),
        ('{"dfm": "1.0.0", "dfm": "1.0.0"}', "", "found the key 'dfm' twice"),
        ("dfm: 1.0.1\ninfo: {api-version: 1.0.0, code-package: x}\n", "dfm", "expected '1.0.0'"),
        ("dfm: 1.0\ninfo: {api-version: 1.0.0, code-package: x}\n", "dfm", "got 1.0"),
        ("dfm: 1.0.0\n", "", "missing required key 'info'"),
        (HEAD + "x-defs: {}\n", "", "unknown key 'x-defs'"),
        (
            HEAD + "provision: {docker: {image: i, tag: t, "
            "build: {context: ., engine: podmn, arch: amd64}}}\n",
            "provision.docker.build.engine",
            "expected 'podman' or 'docker'",
        ),
        (
            HEAD + "provision: {helm: {path: p, name: n, startup_package_source: disk}}\n",
            "provision.helm.startup_package_source",
            "expected 'env' or 'workspace'",
        ),
        ("dfm: 1.0.0\ninfo: {api-version: 1.0.0}\n", "info", "missing required key 'code-package'"),
        (
            "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: dfm}\n",
            "info.code-package",
            "namespace of DFM",
        ),
    ],
)
def test_document_and_top_level_errors(text: str, path: str, message: str) -> None:
    issue = _issues(text)[0]
    assert issue.path_str == (path or "<root>")
    assert message in issue.message


def test_info_allows_extra_keys() -> None:
    config = load_federation_config_from_string(
        "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: x, owner: me}\n"
    )
    assert config.info.model_extra == {"owner": "me"}


@pytest.mark.parametrize(
    ("operation", "path", "message"),
    [
        ("{returns: 'list[str]'}", ".returns", "dotted Python path"),
        ("{parameters: {}}", "", "missing required key 'returns'"),
        (
            "{returns: x, parameters: {p: {type: python-object}}}",
            ".parameters.p.type",
            "'python-object' is gone",
        ),
        (
            "{returns: x, parameters: {p: {type: str}}}",
            ".parameters.p.type",
            "unknown type 'str'",
        ),
        (
            "{returns: x, parameters: {p: {accepts-literal-input: false, accepts-node-input: false,"
            " accepts-place-input: false}}}",
            ".parameters.p",
            "accepts nothing",
        ),
        ("{returns: x, parameters: {p: {typo: 1}}}", ".parameters.p", "unknown key 'typo'"),
        ("{returns: x, parameters: {p: {}}, properties: {q: {}}}", "", "not both"),
        (
            "{returns: x, parameters: {class: {}}}",
            ".parameters.class",
            "must be a Python identifier",
        ),
        ("{returns: x, parameters: {site: {}}}", ".parameters.site", "reserved"),
        ("{returns: x, parameters: {fieldref: {}}}", ".parameters.fieldref", "reserved"),
        ("{returns: x, parameters: {dfm_x: {}}}", ".parameters.dfm_x", "must not start"),
        (
            "{returns: x, parameters: {p: {$ref: '#/schemas/Nope', type: string}}}",
            '.parameters.p["$ref"]',
            "no key 'schemas'",
        ),
        ("[1]", "", "expected an operation (a mapping)"),
    ],
)
def test_operation_errors(operation: str, path: str, message: str) -> None:
    issue = _one(HEAD + f"operations:\n  users.GreetMe: {operation}\n")
    assert issue.path_str == 'operations["users.GreetMe"]' + path
    assert message in issue.message


def test_operation_names() -> None:
    issue = _one(HEAD + "operations: {users.Greet-Me: {returns: x}}\n")
    assert "dot-separated Python identifiers" in issue.message
    issue = _one(HEAD + "operations: {a.b_c: {returns: x}, a_b.c: {returns: x}}\n")
    assert "call_a_b_c" in issue.message


@pytest.mark.parametrize(
    ("binding", "path", "message"),
    [
        ("{args: from-operation}", "", "missing required key 'adapter'"),
        ("{adapter: 'not a path', args: {}}", ".adapter", "dotted Python path"),
        (
            "{adapter: {path: a.B, args: {x: 1}, extra: 1}, args: {}}",
            ".adapter",
            "unknown key 'extra'",
        ),
        ("{adapter: a.B, args: from-param}", ".args", "expected 'from-operation' or a mapping"),
        ("{adapter: a.B, args: [name]}", ".args", "expected 'from-operation' or a mapping"),
        (
            "{adapter: a.B, args: {name: justastring}}",
            ".args.name",
            "for a fixed value write {const: ...}",
        ),
        ("{adapter: a.B, args: {name: {doc: x}}}", ".args.name", "expected one of from-param"),
        (
            "{adapter: a.B, args: {name: {const: 1, from-param: name}}}",
            ".args.name",
            "give exactly one of",
        ),
        (
            "{adapter: a.B, args: {name: {from-param: name, from_param: name}}}",
            ".args.name",
            "give exactly one of",
        ),
        (
            "{adapter: a.B, args: {n: {from-param: name, expose-as: {param: p, type: string}}}}",
            ".args.n.expose-as",
            "not allowed with from-param",
        ),
        (
            "{adapter: a.B, args: {n: {from-param: nam}}}",
            ".args.n.from-param",
            "has no parameter 'nam'",
        ),
        (
            "{adapter: a.B, args: {n: {from-provider: prov}}}",
            ".args.n.from-provider",
            "'<provider>.<attribute>'",
        ),
        (
            "{adapter: a.B, args: {n: {from-provider: other.x}}}",
            ".args.n.from-provider",
            "no provider 'other'",
        ),
        ("{adapter: a.B, args: {n: {from-site: 'a.b'}}}", ".args.n.from-site", "Python identifier"),
        (
            "{adapter: a.B, args: {n: {const: 1, expose-as: {param: name, type: string}}}}",
            ".args.n.expose-as.param",
            "already a parameter",
        ),
        (
            "{adapter: a.B, args: {n: {const: 1, expose-as: {param: g, type: strng}}}}",
            ".args.n.expose-as.type",
            "unknown type",
        ),
        (
            "{adapter: a.B, args: {n: {const: 1, expose-as: g}}}",
            ".args.n.expose-as",
            "expected a mapping",
        ),
        (
            "{adapter: a.B, args: {n: {const: 1, expose-as: {param: g, type: string}}, "
            "m: {const: 2, expose-as: {param: g, type: string}}}}",
            ".args.m.expose-as.param",
            "already exposed by argument 'n'",
        ),
        (
            "{adapter: a.B, args: {}, compute-cost: {fixed_time: 1}}",
            "",
            "unknown key 'compute-cost' (did you mean 'compute_cost'?)",
        ),
        (
            "{adapter: a.B, args: {}, compute_cost: {fixed_tim: 1}}",
            ".compute_cost",
            "unknown key 'fixed_tim'",
        ),
        ("{adapter: a.B, args: {}, is-async: maybe}", ".is-async", "expected true or false"),
        ("{adapter: a.B, args: {1x: {const: 1}}}", ".args", "identifiers"),
    ],
)
def test_binding_errors(binding: str, path: str, message: str) -> None:
    issue = _one(_site(binding))
    assert issue.path_str == 'sites.s.interface["#/operations/users.GreetMe"]' + path
    assert message in issue.message


@pytest.mark.parametrize(
    ("sites", "path", "message"),
    [
        ("{a-b: {}}", "sites.a-b", "must be a Python identifier"),
        ("{'x@a.com': {}, 'x@b.com': {}}", 'sites["x@b.com"]', "are both site 'x'"),
        (
            "{s: {interface: {users.GreetMe: {adapter: a.B}}}}",
            'sites.s.interface["users.GreetMe"]',
            "'#/operations/<operation name>'",
        ),
        (
            "{s: {interface: {'#/operations/nope.Op': {adapter: a.B}}}}",
            'sites.s.interface["#/operations/nope.Op"]',
            "unknown operation 'nope.Op'",
        ),
        ("{s: {providers: {site: {}}}}", "sites.s.providers.site", "provider name 'site'"),
        ("{s: {providers: {my-prov: {}}}}", "sites.s.providers.my-prov", "provider name"),
        ("{s: {providers: {p: {impl: 3}}}}", "sites.s.providers.p.impl", "expected a mapping"),
        (
            "{s: {send_cost: {t: {fixed_time: 1, bandwith: 2}}}}",
            "sites.s.send_cost.t",
            "unknown key 'bandwith'",
        ),
        (
            "{s: {cache_config: {base_path: /x, protcol: s3}}}",
            "sites.s.cache_config",
            "unknown key 'protcol'",
        ),
        ("{s: {interface: [1]}}", "sites.s.interface", "expected interface entries"),
        ("{s: {nope: 1}}", "sites.s", "unknown key 'nope'"),
    ],
)
def test_site_errors(sites: str, path: str, message: str) -> None:
    issue = _one(HEAD + OPS + f"sites: {sites}\n")
    assert issue.path_str == path
    assert message in issue.message


def test_issue_in_referenced_file_names_that_file(
    tmp_path: Path, write_files: Callable[[Path, dict[str, str]], None]
) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD + OPS + 'sites: {s: {interface: {$ref: ["iface.yaml#/i"]}}}\n',
            "iface.yaml": 'i:\n  "#/operations/users.GreetMe":\n'
            "    {adapter: a.B, args: {}, is-async: maybe}\n",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(tmp_path / "main.yaml")
    [issue] = exc.value.issues
    assert issue.file == (tmp_path / "iface.yaml").resolve()
    assert issue.path_str == 'i["#/operations/users.GreetMe"].is-async'
    assert issue.message.endswith("(used as sites.s.interface via $ref from main.yaml)")


def test_issue_in_referenced_entry_shows_the_path_in_that_file(
    tmp_path: Path, write_files: Callable[[Path, dict[str, str]], None]
) -> None:
    write_files(
        tmp_path,
        {
            "fed.dfm.yaml": HEAD
            + 'operations:\n  a.A: {$ref: "sub/ops.yaml#/operation"}\n'
            + '  a.B: {$ref: "#/operations/a.C"}\n'
            + "  a.C: {returns: x, parameters: {y: {type: 3}}}\n",
            "sub/ops.yaml": "operation:\n  returns: x\n  parameters: {x: {type: strin}}\n",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(tmp_path / "fed.dfm.yaml")
    first, second, third = exc.value.issues
    assert first.file == (tmp_path / "sub" / "ops.yaml").resolve()
    assert str(first).startswith(
        f"{first.file}: operation.parameters.x.type: unknown type 'strin' (did you mean 'string'?)"
    )
    assert first.message.endswith(' (used as operations["a.A"] via $ref from fed.dfm.yaml)')
    # A reference inside the same file: the place in the file, no "from".
    assert second.path_str == third.path_str == 'operations["a.C"].parameters.y.type'
    assert second.message.endswith(' (used as operations["a.B"] via $ref)')
    assert "used as" not in third.message


@pytest.mark.parametrize(
    ("type_", "path", "hint"),
    [
        ("strin", ".type", " (did you mean 'string'?)"),
        ("Integer", ".type", " (did you mean 'integer'?)"),
        ("[number, strin]", ".type[1]", " (did you mean 'string'?)"),
        ("pandas", ".type", ":"),
    ],
)
def test_unknown_type_is_reported_where_written_with_a_hint(
    type_: str, path: str, hint: str
) -> None:
    issue = _one(
        HEAD + f"operations: {{a.Op: {{returns: x, parameters: {{p: {{type: {type_}}}}}}}}}\n"
    )
    assert issue.path_str == 'operations["a.Op"].parameters.p' + path
    assert issue.message.startswith(f"unknown type {type_.strip('[]').split(', ')[-1]!r}{hint}")
