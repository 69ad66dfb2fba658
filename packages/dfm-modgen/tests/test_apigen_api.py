"""Generated operation, site-pinned and schema classes."""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel, ValidationError

from dfm.api import Advise, BestOf, Operation, Pipeline, PlaceParam, Yield, allow_module_prefix
from dfm.modgen.apigen import GenerationError, generate_federation, render_federation
from dfm.modgen.config import FederationConfig, load_federation_config_from_string

Importer = Callable[[Path, str], ModuleType]

RICH = """
dfm: 1.0.0
info: {api-version: 3.2.1, code-package: richfed, description: A rich test federation}
schemas:
  geo.Point:
    description: A point.
    type: object
    properties:
      x: {type: number, description: Abscissa.}
      y: {type: number, default: 0}
      label-text: {type: string}
    required: [x]
  geo.Shape:
    type: object
    properties:
      points: {type: array, items: {$ref: "#/schemas/geo.Point"}}
      kind: {enum: [circle, square]}
      style: {type: object, properties: {color: {type: string}}}
      parent: {$ref: "#/schemas/geo.Shape"}
      either: {oneOf: [{type: integer}, {type: string}]}
  Color: {type: string, enum: [red, green]}
  Bag: {type: object}
operations:
  users.GreetMe:
    description: Greets.
    parameters:
      name: {type: string, description: Who.}
      times: {type: integer, default: 2}
      loud:
        type: boolean
        accepts-node-input: false
        accepts-place-input: false
        discoverable: false
      mood: {type: string, enum: [happy, sad]}
      anything: {description: No type.}
      shape: {$ref: "#/schemas/geo.Shape"}
      tags: {type: array, items: {type: string}, default: [a]}
    required: [name]
    returns: string
  Ping: {returns: string}
  deep.inner.Op: {returns: Any, parameters: {p: {type: [number, "null"]}}}
  deep.Top: {returns: Any}
sites:
  "home@rich.org":
    interface:
      "#/operations/users.GreetMe":
        adapter: rich.lib.Greeter
        description: Greets at home
        args:
          name: {from-param: name}
          fmt:
            const: "Hi {name}"
            expose-as: {param: greeting, type: string, description: Format.}
          key:
            from-secrets: KEY
            expose-as: {param: key_override, type: string, accepts-node-input: false}
      "#/operations/Ping": {adapter: rich.lib.Ping, is-async: false}
    providers:
      greeter:
        interface:
          "#/operations/users.GreetMe": {adapter: rich.lib.Greeter, args: from-operation}
          "#/operations/deep.inner.Op": {adapter: rich.lib.Deep, args: from-operation}
  away: {}
"""


@pytest.fixture
def rich() -> FederationConfig:
    return load_federation_config_from_string(RICH)


@pytest.fixture
def rich_out(rich: FederationConfig, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    generate_federation(rich, out)
    allow_module_prefix("richfed")
    return out


def test_layout(rich: FederationConfig) -> None:
    assert sorted(render_federation(rich)) == [
        "__init__.py",
        "api/__init__.py",
        "api/deep/__init__.py",
        "api/deep/inner.py",
        "api/users.py",
        "runtime/__init__.py",
        "runtime/away/__init__.py",
        "runtime/away/_this_site.py",
        "runtime/fed_info.json",
        "runtime/home/__init__.py",
        "runtime/home/_this_site.py",
        "schema/__init__.py",
        "schema/_models.py",
        "schema/geo.py",
        "site/__init__.py",
        "site/away/__init__.py",
        "site/home/__init__.py",
        "site/home/greeter/__init__.py",
        "site/home/greeter/deep/__init__.py",
        "site/home/greeter/deep/inner.py",
        "site/home/greeter/users.py",
        "site/home/users.py",
    ]


def test_api_class_source(rich: FederationConfig) -> None:
    source = render_federation(rich)["api/users.py"]
    assert "class GreetMe(Operation):" in source
    assert 'dfm_class_name: Literal["richfed.fed.api.users.GreetMe"] = (' in source
    assert '__api_name__ = "users.GreetMe"' in source
    expected = [
        "    name: str | NodeParam | PlaceParam | Advise\n",
        "    times: int | NodeParam | PlaceParam | Advise | None = 2\n",
        "    loud: bool | None = None\n",
        '    mood: Literal["happy", "sad"] | NodeParam | PlaceParam | Advise | None = None\n',
        "    anything: Any | NodeParam | PlaceParam | Advise | None = None\n",
        "    shape: Shape | NodeParam | PlaceParam | Advise | None = None\n",
        '    tags: list[str] | NodeParam | PlaceParam | Advise | None = ["a"]\n',
    ]
    for line in expected:
        assert line in source
    assert "from richfed.fed.schema.geo import Shape" in source
    assert "rich.lib" not in source  # the API never imports adapters


def test_api_classes_at_run_time(rich_out: Path, import_generated: Importer) -> None:
    users = import_generated(rich_out, "richfed.fed.api.users")
    GreetMe = users.GreetMe
    assert issubclass(GreetMe, Operation)
    assert GreetMe.__api_name__ == "users.GreetMe"
    fields = GreetMe.model_fields
    assert fields["dfm_class_name"].default == "richfed.fed.api.users.GreetMe"
    assert fields["name"].is_required()
    assert fields["times"].default == 2 and fields["tags"].default == ["a"]
    with Pipeline() as p:
        op = GreetMe(name=PlaceParam(place="who"), loud=True)
        GreetMe(name=op, mood=Advise())
        Yield(value=op)
    assert op.site == BestOf() and op.provider is None
    assert op.model_fields_set >= {"name", "loud"}
    again = Pipeline.model_validate_json(p.model_dump_json())
    assert again.model_dump() == p.model_dump()
    with pytest.raises(ValueError), Pipeline():
        GreetMe(name="x", loud=PlaceParam(place="nope"))  # loud accepts literals only
    with pytest.raises(ValueError), Pipeline():
        GreetMe(name="x", mood="angry")
    ping = import_generated(rich_out, "richfed.fed.api").Ping
    assert ping.model_fields["dfm_class_name"].default == "richfed.fed.api.Ping"
    inner = import_generated(rich_out, "richfed.fed.api.deep.inner").Op
    assert inner.__api_name__ == "deep.inner.Op"
    assert import_generated(rich_out, "richfed.fed.api.deep").Top.__api_name__ == "deep.Top"


def test_site_and_provider_pinned_classes(rich_out: Path, import_generated: Importer) -> None:
    api = import_generated(rich_out, "richfed.fed.api.users")
    home = import_generated(rich_out, "richfed.fed.site.home.users")
    prov = import_generated(rich_out, "richfed.fed.site.home.greeter.users")
    HomeGreet, ProvGreet = home.GreetMe, prov.GreetMe
    assert issubclass(HomeGreet, api.GreetMe) and issubclass(ProvGreet, api.GreetMe)
    assert HomeGreet.__api_name__ == ProvGreet.__api_name__ == "users.GreetMe"
    assert HomeGreet.model_fields["dfm_class_name"].default == "richfed.fed.site.home.users.GreetMe"
    assert typing.get_args(HomeGreet.model_fields["site"].annotation) == ("home",)
    assert HomeGreet.model_fields["provider"].default is None
    assert typing.get_args(ProvGreet.model_fields["provider"].annotation) == ("greeter",)
    assert ProvGreet.model_fields["dfm_class_name"].default == (
        "richfed.fed.site.home.greeter.users.GreetMe"
    )
    assert "greeting" in HomeGreet.model_fields and "key_override" in HomeGreet.model_fields
    assert "greeting" not in ProvGreet.model_fields
    with Pipeline():
        op = HomeGreet(name="x", greeting="Yo {name}")
    assert (op.site, op.provider, op.greeting) == ("home", None, "Yo {name}")
    with pytest.raises(ValueError), Pipeline():
        HomeGreet(name="x", site="away")
    pinged = import_generated(rich_out, "richfed.fed.site.home").Ping
    assert pinged.model_fields["dfm_class_name"].default == "richfed.fed.site.home.Ping"
    assert "class" not in import_generated(rich_out, "richfed.fed.site.away").__dict__.get(
        "__all__", []
    )


def test_schema_models(rich_out: Path, import_generated: Importer) -> None:
    geo = import_generated(rich_out, "richfed.fed.schema.geo")
    Point, Shape = geo.Point, geo.Shape
    assert issubclass(Point, BaseModel)
    assert Point.__doc__ is not None and Point.__doc__.startswith("A point.")
    point = Point(x=1.5)
    assert (point.x, point.y) == (1.5, 0)
    assert Point.model_validate({"x": 1, "label-text": "here"}).label_text == "here"
    with pytest.raises(ValidationError):
        Point()
    shape = Shape.model_validate(
        {
            "points": [{"x": 1}],
            "kind": "circle",
            "style": {"color": "red"},
            "parent": {},
            "either": 3,
        }
    )
    assert isinstance(shape.points[0], Point) and isinstance(shape.parent, Shape)
    assert shape.style.color == "red"
    with pytest.raises(ValidationError):
        Shape(kind="triangle")
    top = import_generated(rich_out, "richfed.fed.schema")
    assert typing.get_args(top.Color) == ("red", "green")
    assert top.Bag.model_validate({"anything": 1}).model_extra == {"anything": 1}


def test_schema_models_are_trusted_without_an_allow_list(
    rich_out: Path, import_generated: Importer
) -> None:
    from dfm.api import decode_value, encode_value, trusted_class

    geo = import_generated(rich_out, "richfed.fed.schema.geo")
    tagged = encode_value(geo.Point(x=2.0))
    assert tagged[0] == "model" and trusted_class(tagged[1]["class"]) is geo.Point
    assert decode_value(tagged) == geo.Point(x=2.0)  # the default, restrictive policy


def test_default_value_not_matching_any_type_is_still_emitted(tmp_path: Path) -> None:
    config = load_federation_config_from_string(
        "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: dflt}\n"
        "operations: {a.Op: {returns: x, parameters: {p: {type: number, default: .inf}}}}\n"
    )
    assert (
        'p: float | NodeParam | PlaceParam | Advise | None = float("inf")'
        in (render_federation(config)["api/a.py"])
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("operations: {a.b: {returns: x}, a.b.C: {returns: x}}", "both a class and a submodule"),
        ("operations: {x.Operation: {returns: x}}", "reserved in generated code"),
        (
            "operations: {a.Op: {returns: x}}\nsites: {s: {providers: {a: {}}, interface: "
            "{'#/operations/a.Op': {adapter: m.A}}}}",
            "has the name of an operation module",
        ),
        (
            "operations: {a.Op: {returns: x}}\nsites: {s: {providers: {m: {interface: "
            "{'#/operations/a.Op': {adapter: m.A}}}}}}",
            "has the name of an imported package",
        ),
    ],
)
def test_generation_errors(body: str, message: str) -> None:
    config = load_federation_config_from_string(
        "dfm: 1.0.0\ninfo: {api-version: 1.0.0, code-package: clash}\n" + body
    )
    with pytest.raises(GenerationError, match=message):
        render_federation(config)
