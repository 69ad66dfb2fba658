"""Loading a pipeline is inert: it never unpickles and never imports outside the allow-list.

Each test is an attack first: a crafted pipeline JSON that would run code or import a
module if loading were not inert. The literals stay encoded (``EncodedLiteral``) so the
site that uses them decodes them under its own policy.
"""

from __future__ import annotations

import base64
import json
import pickle
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfm.api import (
    TRUSTED,
    DecodePolicy,
    EncodedLiteral,
    PickledObject,
    Pipeline,
    SerializationError,
    Yield,
    decode_value,
    encode_literal,
    encode_value,
    trust_classes,
    trusted_class,
)


class _WriteFileWhenUnpickled:
    """Its pickle calls ``Path.write_text`` on load: the payload of the attack."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.write_text, (self.target, "pwned"))


def _evil_pickle(target: Path) -> str:
    return base64.b64encode(pickle.dumps(_WriteFileWhenUnpickled(target))).decode("ascii")


def _pipeline_json(literal: Any, cls: str = "dfmtestops.Echo") -> str:
    with Pipeline(name="p") as p:
        from dfmtestops import Echo

        Echo(x=1)
    data = json.loads(p.model_dump_json())
    data["dfm_body"][0]["x"] = literal
    data["dfm_body"][0]["dfm_class_name"] = cls
    return json.dumps(data)


@pytest.fixture
def side_effect_module(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A module on sys.path that writes a file when imported."""
    marker = tmp_path / "imported.txt"
    name = "dfm_attack_side_effect_mod"
    source = f"""
        from pathlib import Path
        from pydantic import BaseModel
        Path({str(marker)!r}).write_text("imported")

        class Evil(BaseModel):
            x: int = 0
    """
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(tmp_path))
    yield name, marker
    sys.path.remove(str(tmp_path))
    sys.modules.pop(name, None)


# -- pickle ------------------------------------------------------------------------------


def test_pickle_literal_is_not_unpickled_on_load(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    text = _pipeline_json({"tag": "__dfm__value__", "value": ["pickle", _evil_pickle(target)]})
    back = Pipeline.model_validate_json(text)
    assert not target.exists()
    literal = back.dfm_body[0].x  # type: ignore[attr-defined]
    assert isinstance(literal, EncodedLiteral)
    assert literal.tagged == ("pickle", _evil_pickle(target))
    # it stays encoded through another round trip, byte for byte
    again = Pipeline.model_validate_json(back.model_dump_json())
    assert again.model_dump_json() == back.model_dump_json()
    assert not target.exists()


def test_pickled_object_json_is_not_unpickled_on_load(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    text = _pipeline_json({"tag": "__dfm__pickled__", "value": _evil_pickle(target)})
    back = Pipeline.model_validate_json(text)
    assert not target.exists()
    literal = back.dfm_body[0].x  # type: ignore[attr-defined]
    assert isinstance(literal, EncodedLiteral) and literal.pickled_object
    written = json.loads(back.model_dump_json())["dfm_body"][0]["x"]
    assert written == json.loads(text)["dfm_body"][0]["x"]


def test_nested_pickles_are_not_unpickled_either(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    nested = {"a": [{"tag": "__dfm__pickled__", "value": _evil_pickle(target)}]}
    back = Pipeline.model_validate_json(_pipeline_json(nested))
    assert not target.exists()
    assert isinstance(back.dfm_body[0].x["a"][0], EncodedLiteral)  # type: ignore[attr-defined]


def test_encoded_literals_pass_typed_fields_unchecked(tmp_path: Path) -> None:
    # A str-typed (Concat.a) or model-typed (Shape.origin) field cannot check an encoded
    # value: it stays encoded there and the other fields are validated as usual.
    target = tmp_path / "pwned.txt"
    literal = {"tag": "__dfm__value__", "value": ["pickle", _evil_pickle(target)]}
    with Pipeline() as p:
        from dfmtestops import Concat, Shape

        Concat(a="x", b="y")
        Shape(points={})
    data = json.loads(p.model_dump_json())
    data["dfm_body"][0]["a"] = literal
    data["dfm_body"][1]["origin"] = {"tag": "__dfm__pickled__", "value": _evil_pickle(target)}
    back = Pipeline.model_validate(data)
    concat, shape = back.dfm_body
    assert type(concat).__name__ == "Concat" and type(concat) is Concat
    assert isinstance(concat.a, EncodedLiteral) and concat.b == "y"  # type: ignore[attr-defined]
    assert isinstance(shape.origin, EncodedLiteral)  # type: ignore[attr-defined]
    assert (
        concat.model_fields_set
        == Concat.model_validate(json.loads(p.model_dump_json())["dfm_body"][0]).model_fields_set
    )
    again = Pipeline.model_validate_json(back.model_dump_json())
    assert again == back and not target.exists()
    data["dfm_body"][0]["b"] = 3
    with pytest.raises(ValueError, match="b"):
        Pipeline.model_validate(data)  # the other fields are still checked


def test_load_from_file_does_not_unpickle(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    file = tmp_path / "p.json"
    literal = {"tag": "__dfm__value__", "value": ["pickle", _evil_pickle(target)]}
    file.write_text(_pipeline_json(literal))
    Pipeline.load_from_file(file)
    assert not target.exists()


def test_pickled_object_refuses_to_unpickle_its_json_form(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    with pytest.raises(ValueError, match="not unpickled"):
        PickledObject.model_validate({"tag": "__dfm__pickled__", "value": _evil_pickle(target)})
    assert not target.exists()


def test_yield_literal_stays_encoded(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    with Pipeline() as p:
        Yield(value=1)
    data = json.loads(p.model_dump_json())
    literal = {"tag": "__dfm__value__", "value": ["pickle", _evil_pickle(target)]}
    data["dfm_body"][0]["value"] = literal
    back = Pipeline.model_validate(data)
    assert isinstance(back.dfm_body[0].value, EncodedLiteral)  # type: ignore[attr-defined]
    assert not target.exists()


# -- model classes -----------------------------------------------------------------------


def test_model_literal_of_arbitrary_module_stays_encoded() -> None:
    tagged = ["model", {"class": "os.system", "data": {"command": "touch /tmp/x"}}]
    back = Pipeline.model_validate_json(_pipeline_json({"tag": "__dfm__value__", "value": tagged}))
    literal = back.dfm_body[0].x  # type: ignore[attr-defined]
    assert isinstance(literal, EncodedLiteral)
    assert literal.tagged == ("model", tagged[1])


def test_model_literal_does_not_import_its_module(side_effect_module: tuple[str, Path]) -> None:
    name, marker = side_effect_module
    tagged = ["model", {"class": f"{name}.Evil", "data": {"x": 1}}]
    back = Pipeline.model_validate_json(_pipeline_json({"tag": "__dfm__value__", "value": tagged}))
    assert isinstance(back.dfm_body[0].x, EncodedLiteral)  # type: ignore[attr-defined]
    assert not marker.exists() and name not in sys.modules


def test_class_name_of_arbitrary_module_is_not_imported(
    side_effect_module: tuple[str, Path],
) -> None:
    name, marker = side_effect_module
    with pytest.raises(ValueError, match="outside the allowed modules"):
        Pipeline.model_validate_json(_pipeline_json(1, cls=f"{name}.Evil"))
    assert not marker.exists() and name not in sys.modules


def test_model_literal_of_allowed_module_is_decoded() -> None:
    from dfmtestops import Point

    tagged = ["model", {"class": "dfmtestops.Point", "data": {"x": 1, "y": 2}}]
    back = Pipeline.model_validate_json(_pipeline_json({"tag": "__dfm__value__", "value": tagged}))
    assert back.dfm_body[0].x == Point(x=1, y=2)  # type: ignore[attr-defined]


def test_decoding_refuses_model_classes_before_importing(
    side_effect_module: tuple[str, Path],
) -> None:
    name, marker = side_effect_module
    tagged = ("model", {"class": f"{name}.Evil", "data": {}})
    with pytest.raises(SerializationError, match="allow-modules"):
        decode_value(tagged)
    with pytest.raises(SerializationError, match="allow-modules"):
        decode_value(tagged, DecodePolicy(allow_modules=("other",)))
    assert not marker.exists() and name not in sys.modules
    assert decode_value(tagged, DecodePolicy(allow_modules=(name,))).x == 0
    assert marker.exists()


def test_model_class_must_be_a_pydantic_model() -> None:
    with pytest.raises(SerializationError, match="not a pydantic model"):
        tagged = ("model", {"class": "os.system", "data": {}})
        decode_value(tagged, DecodePolicy(allow_modules=("os",)))


@pytest.mark.parametrize(
    "tagged",
    [
        ("model", {"class": "no dots", "data": {}}),
        ("model", {"class": "a..b", "data": {}}),
        ("model", "text"),
        ("model", {"class": 3, "data": {}}),
    ],
)
def test_malformed_model_values_are_refused(tagged: tuple[str, Any]) -> None:
    with pytest.raises(SerializationError, match="model"):
        decode_value(tagged, TRUSTED)


# -- the default policy ------------------------------------------------------------------


def test_default_decode_policy_is_restrictive(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    restrictive = DecodePolicy(allow_pickle=False, allow_modules=(), trust_all_modules=False)
    assert DecodePolicy() == restrictive
    with pytest.raises(SerializationError, match="does not allow pickled"):
        decode_value(("pickle", _evil_pickle(target)))
    assert not target.exists()


def test_allowed_prefix_matches_whole_module_names() -> None:
    policy = DecodePolicy(allow_modules=("my.pkg",))
    assert policy.allows_module("my.pkg") and policy.allows_module("my.pkg.sub")
    assert policy.allows_module("dfm.api")
    assert not policy.allows_module("my.pkgevil") and not policy.allows_module("my")
    with pytest.raises(ValueError, match="dotted"):
        DecodePolicy(allow_modules=("bad prefix",))


# -- classes of imported packages are trusted ---------------------------------------------


@pytest.fixture
def fed_package(tmp_path: Path) -> Iterator[str]:
    """A federation-like package outside the allow-list, imported by the 'user'."""
    pkg = tmp_path / "inertfed" / "fed" / "api"
    pkg.mkdir(parents=True)
    for folder in (tmp_path / "inertfed", tmp_path / "inertfed" / "fed", pkg):
        (folder / "__init__.py").write_text("")
    (tmp_path / "inertfed" / "fed" / "schema.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from dfm.api import trust_classes

            class Reading(BaseModel):
                value: float

            trust_classes(Reading)
            """
        )
    )
    (pkg / "ops.py").write_text(
        textwrap.dedent(
            """
            from typing import Any, Literal
            from dfm.api import NodeParam, Operation, PlaceParam

            class Load(Operation):
                dfm_class_name: Literal["inertfed.fed.api.ops.Load"] = "inertfed.fed.api.ops.Load"
                __api_name__ = "ops.Load"
                x: Any | NodeParam | PlaceParam = None
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    yield "inertfed"
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m == "inertfed" or m.startswith("inertfed.")]:
        del sys.modules[name]


def test_imported_operation_classes_round_trip_without_allow_list(fed_package: str) -> None:
    from inertfed.fed.api.ops import Load  # type: ignore[import-not-found]

    with Pipeline() as p:
        Yield(value=Load(x={1, 2}))
    assert trusted_class("inertfed.fed.api.ops.Load") is Load
    back = Pipeline.model_validate_json(p.model_dump_json())
    assert back == p
    assert back.model_dump_json() == p.model_dump_json()


def test_trusted_schema_models_decode_under_the_default_policy(fed_package: str) -> None:
    from inertfed.fed.schema import Reading  # type: ignore[import-not-found]

    assert decode_value(encode_value(Reading(value=1.5))) == Reading(value=1.5)


def test_trust_refuses_local_classes() -> None:
    from pydantic import BaseModel

    class Local(BaseModel):
        x: int = 0

    with pytest.raises(ValueError, match="module level"):
        trust_classes(Local)


# -- encoded literals behave like the values they stand for ------------------------------


def test_encoded_literal_equals_the_value_it_encodes() -> None:
    from dfmtestops import Echo

    with Pipeline() as p:
        Echo(x={1, 2})
        Echo(x=PickledObject(frozenset({3})))
        Echo(x={"a": PickledObject({4})})
    back = Pipeline.model_validate_json(p.model_dump_json())
    assert back == p
    assert isinstance(back.dfm_body[0].x, EncodedLiteral)  # type: ignore[attr-defined]
    assert back.model_dump_json() == p.model_dump_json()
    assert EncodedLiteral(encode_value({1, 2})) != EncodedLiteral(encode_value({1, 3}))
    assert EncodedLiteral(encode_value({1, 2})) != {1, 3}


def test_encoded_literal_decodes_under_a_policy() -> None:
    literal = EncodedLiteral(encode_value({1, 2}))
    with pytest.raises(SerializationError, match="does not allow pickled"):
        literal.decode(DecodePolicy())
    assert literal.decode(TRUSTED) == {1, 2}
    assert EncodedLiteral(encode_value({5}), pickled_object=True).decode(TRUSTED) == {5}


def test_encode_literal_passes_encoded_payloads_through_unchanged() -> None:
    tagged = ("pickle", base64.b64encode(pickle.dumps({1})).decode("ascii"))
    assert encode_literal(EncodedLiteral(tagged)) == tagged
    assert encode_literal(PickledObject({1})) == encode_value({1})
    assert encode_literal((1, 2)) == encode_value((1, 2))


def test_encoded_literals_inside_containers_come_back_at_a_trusting_site() -> None:
    inner = EncodedLiteral(encode_value({1, 2}))
    wrapped = EncodedLiteral(encode_value({7}), pickled_object=True)
    tagged = encode_literal({"a": [inner], "b": wrapped})
    assert tagged[0] == "pickle"
    assert decode_value(tagged, TRUSTED) == {"a": [{1, 2}], "b": PickledObject({7})}


def test_copying_an_encoded_literal_does_not_decode_it(tmp_path: Path) -> None:
    import copy

    target = tmp_path / "pwned.txt"
    literal = EncodedLiteral(("pickle", _evil_pickle(target)))
    assert copy.deepcopy(literal) == literal
    assert not target.exists()
