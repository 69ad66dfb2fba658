"""$ref: single-object and dictionary-merge references, pointers, files, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dfm.modgen.apigen import render_federation
from dfm.modgen.config import (
    ConfigError,
    load_federation_config,
    load_federation_config_from_dict,
    load_federation_config_from_string,
)

WriteFiles = Callable[[Path, dict[str, str]], None]

HEAD = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: reffed}
"""

OP = "{parameters: {x: {type: string}}, returns: string}"


def _messages(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(issue) for issue in exc.value.issues]


def test_local_single_object_refs_everywhere() -> None:
    config = load_federation_config_from_string(
        HEAD
        + f"""
schemas:
  geo.Point: {{type: object, properties: {{x: {{type: number}}}}}}
  Alias: {{$ref: "#/schemas/geo.Point"}}
operations:
  a.Op: {OP}
  a.Same: {{$ref: "#/operations/a.Op"}}
sites:
  s1:
    interface:
      "#/operations/a.Op": {{adapter: m.A, args: from-operation}}
      "#/operations/a.Same": {{$ref: "#/sites/s1/interface/#~1operations~1a.Op"}}
    providers:
      p: {{interface: {{"#/operations/a.Op": {{adapter: m.B, args: from-operation}}}}}}
      q: {{$ref: "#/sites/s1/providers/p"}}
  s2: {{$ref: "#/sites/s1"}}
"""
    )
    assert config.operations["a.Same"] == config.operations["a.Op"]
    assert config.schemas["Alias"] == config.schemas["geo.Point"]
    s1 = config.sites["s1"]
    assert s1.interface["a.Same"] == s1.interface["a.Op"]
    assert s1.providers["q"] == s1.providers["p"]
    assert config.sites["s2"] == s1


def test_file_refs_are_relative_to_the_file_that_holds_them(
    tmp_path: Path, write_files: WriteFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(
        tmp_path,
        {
            "fed/main.dfm.yaml": HEAD
            + """
operations:
  $ref: ["parts/ops.yaml#/ops"]
sites:
  s: {$ref: "parts/sites/s.yaml#/site"}
""",
            "fed/parts/ops.yaml": "ops:\n  a.Op: {$ref: 'shared/op.yaml#/the op'}\n",
            "fed/parts/shared/op.yaml": f"the op: {OP}\n",
            "fed/parts/sites/s.yaml": """
site:
  interface:
    $ref: ["../iface.yaml#/iface"]
""",
            "fed/parts/iface.yaml": """
iface:
  "#/operations/a.Op": {adapter: m.A, args: {x: {from-param: x}}}
""",
        },
    )
    monkeypatch.chdir(tmp_path)  # not the config's folder
    config = load_federation_config(tmp_path / "fed" / "main.dfm.yaml")
    assert list(config.operations) == ["a.Op"]
    assert list(config.sites["s"].interface) == ["a.Op"]


def test_file_refs_fall_back_to_the_working_directory(
    tmp_path: Path, write_files: WriteFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(
        tmp_path,
        {
            "repo/configs/fed.dfm.yaml": HEAD + 'operations: {$ref: ["lib/ops.yaml#/ops"]}\n',
            "repo/lib/ops.yaml": f"ops:\n  a.Op: {OP}\n",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(tmp_path / "repo/configs/fed.dfm.yaml")
    assert "not found (looked for" in str(exc.value)
    monkeypatch.chdir(tmp_path / "repo")
    assert "a.Op" in load_federation_config("configs/fed.dfm.yaml").operations


def test_merge_refs_in_every_allowed_position(tmp_path: Path, write_files: WriteFiles) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD
            + """
schemas: {$ref: ["parts.yaml#/schemas"], Local: {type: string}}
operations:
  first.Op: {returns: string, parameters: {$ref: ["parts.yaml#/params"], own: {type: integer}}}
  $ref: ["parts.yaml#/operations"]
sites:
  $ref: ["parts.yaml#/sites"]
  s2:
    interface: {$ref: ["parts.yaml#/iface"]}
    providers:
      $ref: ["parts.yaml#/providers"]
""",
            "parts.yaml": """
schemas: {geo.Point: {type: object, properties: {x: {type: number}}}}
params: {p1: {type: string}, p2: {type: number}}
operations: {more.Op: {returns: string}}
sites: {s1: {interface: {}}}
iface:
  "#/operations/more.Op": {adapter: m.A}
providers:
  pA:
    interface: {$ref: ["parts.yaml#/iface"]}
""",
        },
    )
    config = load_federation_config(tmp_path / "main.yaml")
    assert list(config.schemas) == ["geo.Point", "Local"]
    assert list(config.operations) == ["first.Op", "more.Op"]
    assert list(config.operations["first.Op"].parameters) == ["p1", "p2", "own"]
    assert list(config.sites) == ["s1", "s2"]
    assert list(config.sites["s2"].interface) == ["more.Op"]
    assert list(config.sites["s2"].providers) == ["pA"]
    assert list(config.sites["s2"].providers["pA"].interface) == ["more.Op"]
    # B1/B2: the generated packages use the remote names, not "$ref".
    files = render_federation(config)
    assert "site/s1/__init__.py" in files
    assert "site/s2/pA/more.py" in files
    assert 'provider: Literal["pA"] = "pA"' in files["site/s2/pA/more.py"]
    assert not any("$ref" in path or "_ref" in path for path in files)


def test_pointer_escapes_and_dotted_keys(tmp_path: Path, write_files: WriteFiles) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD + 'operations: {a.Op: {$ref: "lib.yaml#/odd~1key/ti~0lde/a.b.c"}}\n',
            "lib.yaml": f'"odd/key":\n  "ti~lde":\n    a.b.c: {OP}\n',
        },
    )
    config = load_federation_config(tmp_path / "main.yaml")
    assert list(config.operations["a.Op"].parameters) == ["x"]


def test_pointers_pass_through_merge_references(tmp_path: Path, write_files: WriteFiles) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD
            + """
operations:
  $ref: ["lib.yaml#/ops"]
  b.Alias: {$ref: "#/operations/a.Op"}
""",
            "lib.yaml": f"ops:\n  a.Op: {OP}\n",
        },
    )
    config = load_federation_config(tmp_path / "main.yaml")
    assert config.operations["b.Alias"] == config.operations["a.Op"]


def test_pointer_to_nothing_names_pointer_and_file(tmp_path: Path, write_files: WriteFiles) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD + 'operations: {$ref: ["lib.yaml#/ops/missing"]}\n',
            "lib.yaml": f"ops:\n  a.Op: {OP}\n",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(tmp_path / "main.yaml")
    [issue] = exc.value.issues
    assert issue.file == tmp_path / "main.yaml"
    assert issue.path == ("operations", "$ref", 0)
    assert "lib.yaml#/ops/missing" in issue.message
    assert "'missing'" in issue.message and str(tmp_path / "lib.yaml") in issue.message


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ('{$ref: ["#/operations"]}', "circular"),
        ('{a.Op: {$ref: "#/operations/b.Op"}, b.Op: {$ref: "#/operations/a.Op"}}', "circular"),
        (
            '{a.Op: {$ref: "https://example.com/ops.yaml#/a"}}',
            "remote references are not supported",
        ),
        ('{a.Op: {$ref: "nowhere.yaml#/a"}}', "not found"),
        ('{a.Op: {$ref: "#/nothing/here"}}', "there is no key 'nothing'"),
        ('{a.Op: {$ref: "#operations"}}', "must be a JSON pointer"),
        ('{a.Op: {$ref: "#/operations/b.Op", returns: x}, b.Op: {returns: x}}', "no other keys"),
        ('{$ref: "#/info"}', "operation name 'api-version' must be"),
        ('{$ref: ["#/info/api-version"]}', "must point to a mapping"),
        ('{$ref: ["#/operations2"], a.Op: {returns: x}}', "there is no key"),
        ("{$ref: 3}", "$ref must be a reference like"),
        ("{$ref: {a: b}, x.Op: {returns: x}}", "or a list of references"),
    ],
)
def test_reference_errors(operations: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_string(HEAD + f"operations: {operations}\n")
    assert any(expected in m for m in _messages(exc)), _messages(exc)


def test_key_defined_twice_through_merge(tmp_path: Path, write_files: WriteFiles) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD + f'operations: {{$ref: ["lib.yaml#/ops"], a.Op: {OP}}}\n',
            "lib.yaml": f"ops:\n  a.Op: {OP}\n",
        },
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config(tmp_path / "main.yaml")
    [issue] = exc.value.issues
    assert issue.path == ("operations", "a.Op")
    assert "defined twice" in issue.message and "lib.yaml" in issue.message


def test_schema_refs_reuse_declared_schemas_and_inline_others(
    tmp_path: Path, write_files: WriteFiles
) -> None:
    write_files(
        tmp_path,
        {
            "main.yaml": HEAD
            + """
schemas:
  geo.Point: {$ref: "types.yaml#/Point"}
  geo.Line:
    type: object
    properties:
      points: {type: array, items: {$ref: "types.yaml#/Point"}}
      unit: {$ref: "types.yaml#/Unit"}
      next: {$ref: "#/schemas/geo.Line"}
operations:
  a.Op:
    returns: x
    parameters:
      at: {$ref: "types.yaml#/Point", description: where}
      line: {$ref: "#/schemas/geo.Line"}
      unit: {$ref: "types.yaml#/Unit", accepts-node-input: false}
""",
            "types.yaml": """
Point: {type: object, properties: {x: {type: number}, y: {type: number}}}
Unit: {type: string, enum: [m, km]}
""",
        },
    )
    config = load_federation_config(tmp_path / "main.yaml")
    line = config.schemas["geo.Line"]["properties"]
    assert line["points"]["items"] == {"$ref": "#/schemas/geo.Point"}
    assert line["unit"] == {"type": "string", "enum": ["m", "km"]}
    assert line["next"] == {"$ref": "#/schemas/geo.Line"}
    params = config.operations["a.Op"].parameters
    assert params["at"].ref == "#/schemas/geo.Point" and params["at"].description == "where"
    assert params["line"].ref == "#/schemas/geo.Line"
    assert params["unit"].ref is None and params["unit"].keywords == {"enum": ["m", "km"]}
    assert params["unit"].accepts_node_input is False


@pytest.mark.parametrize(
    "operations",
    [
        '{a.A: {$ref: "#/operations/a.B"}, a.B: {$ref: "#/operations/a.A"}}',
        '{a.A: {$ref: "#/operations/a.B"}, a.B: {$ref: "#/operations/a.C"},'
        ' a.C: {$ref: "#/operations/a.A"}}',
    ],
)
def test_a_cycle_is_reported_once_naming_all_of_it(operations: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_string(HEAD + f"operations: {operations}\n")
    [issue] = exc.value.issues
    assert issue.path == ("operations", "a.A", "$ref")
    assert "is circular" in issue.message
    chain = issue.message.split(": ", 1)[1].split(" -> ")
    assert chain[0] == chain[-1]
    names = operations.count("$ref")
    assert sorted(c.rsplit("/", 1)[1] for c in chain[:-1]) == ["a.A", "a.B", "a.C"][:names]


def test_two_cycles_are_two_issues() -> None:
    operations = (
        '{a.A: {$ref: "#/operations/a.B"}, a.B: {$ref: "#/operations/a.A"},'
        ' b.A: {$ref: "#/operations/b.B"}, b.B: {$ref: "#/operations/b.A"}}'
    )
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_string(HEAD + f"operations: {operations}\n")
    assert [i.path for i in exc.value.issues] == [
        ("operations", "a.A", "$ref"),
        ("operations", "b.A", "$ref"),
    ]


def test_circular_inline_schema_is_an_error() -> None:
    text = (
        HEAD
        + """
schemas:
  Tree: {type: object, properties: {kids: {type: array, items: {$ref: "#/x-defs/Node"}}}}
"""
    )
    data = {"x-defs": {"Node": {"type": "object", "properties": {"n": {"$ref": "#/x-defs/Node"}}}}}
    import yaml

    raw = yaml.safe_load(text) | data
    with pytest.raises(ConfigError) as exc:
        load_federation_config_from_dict(raw)
    messages = _messages(exc)
    assert any("circular" in m for m in messages), messages


def test_json_file_string_and_dict_inputs(tmp_path: Path) -> None:
    data = {
        "dfm": "1.0.0",
        "info": {"api-version": "1.2.3", "code-package": "jsonfed"},
        "operations": {"a.Op": {"returns": "string"}},
    }
    path = tmp_path / "fed.dfm.json"
    path.write_text(json.dumps(data))
    from_file = load_federation_config(path)
    from_string = load_federation_config_from_string(json.dumps(data))
    from_dict = load_federation_config_from_dict(data)
    assert from_file.model_dump() == from_string.model_dump() == from_dict.model_dump()
    assert from_file.source_file == path.resolve()
    assert from_dict.source_file is None


def test_string_input_resolves_files_against_base_dir(
    tmp_path: Path, write_files: WriteFiles
) -> None:
    write_files(tmp_path, {"lib.yaml": f"ops:\n  a.Op: {OP}\n"})
    text = HEAD + 'operations: {$ref: ["lib.yaml#/ops"]}\n'
    config = load_federation_config_from_string(text, base_dir=tmp_path)
    assert list(config.operations) == ["a.Op"]
