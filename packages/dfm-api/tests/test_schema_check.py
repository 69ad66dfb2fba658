"""The JSON-Schema subset that checks parameter values (issue 6, item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from dfm.api import EncodedLiteral, ValueSchema, encode_value, schema_problems


class Point(BaseModel):
    x: float
    y: float = 0.0


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "integer"}, [0, -3, 2**70], [2.5, 2.0, True, False, "3", None, [1]]),
        ({"type": "number"}, [0, 2.5, -1e300, float("inf")], [True, "2.5", None]),
        ({"type": "boolean"}, [True, False], [0, 1, "true", None]),
        ({"type": "string"}, ["", "three"], [3, b"x", None]),
        ({"type": "null"}, [None], [0, "", False]),
        ({"type": "array"}, [[], [1, "a"], (1, 2)], [{}, "ab", {1, 2}]),
        ({"type": "object"}, [{}, {"a": 1}, Point(x=1)], [[], "a", 3]),
        ({"type": ["integer", "null"]}, [1, None], [1.5, "x"]),
        ({"type": "integer", "nullable": True}, [1, None], [1.5]),
        ({"enum": ["a", 1, None]}, ["a", 1, 1.0, None], ["b", True, 2]),
        ({"enum": [True]}, [True], [1]),
        ({"const": 3}, [3, 3.0], [True, "3", 4]),
        ({"type": "array", "items": {"type": "integer"}}, [[1, 2], []], [[1, 2.5], [True]]),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, [["a", 1]], [[1, "a"]]),
        ({"type": "array", "minItems": 1, "maxItems": 2}, [[1], [1, 2]], [[], [1, 2, 3]]),
        ({"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "abc"], ["a", "abcd"]),
        ({"type": "string", "pattern": "^[a-z]+$"}, ["abc"], ["aBc", "1"]),
        ({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, [0, 0.5], [-0.1, 1]),
        ({"type": "integer", "multipleOf": 5}, [0, 10, -5], [3]),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, ["a", 1], [1.5, None]),
        ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, [1, 1.5], ["x"]),
        ({"allOf": [{"type": "integer"}, {"minimum": 2}]}, [2], [1, 2.5]),
        ({"not": {"type": "string"}}, [1, None], ["a"]),
        (
            {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
            [{"x": 1}, {"x": 1.5, "z": "extra"}, Point(x=2)],
            [{}, {"x": "1"}, {"y": 1}],
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            [{"a": 1}],
            [{"a": "1"}, {1: 1}],
        ),
        (
            {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
            [{"a": 1}],
            [{"a": 1, "b": 2}],
        ),
        ({"type": f"{__name__}.Point"}, [Point(x=1)], [{"x": 1}, 3]),
        (True, [1, None, "x"], []),
        ({}, [1, None, "x"], []),
        (False, [], [1, None]),
    ],
)
def test_values_against_schemas(schema: Any, good: list[Any], bad: list[Any]) -> None:
    compiled = ValueSchema(schema)
    for value in good:
        assert compiled.problems(value) == [], (schema, value)
    for value in bad:
        assert compiled.problems(value), (schema, value)


def test_messages_say_where_what_and_what_was_given() -> None:
    schema = {
        "type": "object",
        "properties": {
            "k": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["k", "name"],
    }
    assert schema_problems({"k": 2.5, "tags": ["a", 3]}, schema) == [
        ".k: expected integer, got float 2.5",
        ".tags[1]: expected string, got int 3",
        "missing required property 'name'",
    ]
    assert schema_problems("three", {"type": "integer"}) == ["expected integer, got str 'three'"]
    assert schema_problems(True, {"type": ["integer", "null"]}) == [
        "expected integer or null, got bool True"
    ]
    assert schema_problems("c", {"enum": ["a", "b"]}) == ["expected one of 'a', 'b', got str 'c'"]


def test_references_to_defs_and_recursion() -> None:
    schema = {
        "$ref": "#/$defs/Tree",
        "$defs": {
            "Tree": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
                },
            }
        },
    }
    good = {"value": 1, "children": [{"value": 2, "children": []}]}
    assert schema_problems(good, schema) == []
    bad = {"value": 1, "children": [{"value": "2"}]}
    assert schema_problems(bad, schema) == [".children[0].value: expected integer, got str '2'"]
    assert schema_problems(3, {"$ref": "#/nowhere"}) == []  # cannot be checked: accepted


def test_classes_are_found_by_their_exported_path_without_importing() -> None:
    import sys

    sys.modules[f"{__name__}_reexport"] = type(sys)("reexport")
    sys.modules[f"{__name__}_reexport"].Pt = Point  # type: ignore[attr-defined]
    try:
        schema = {"type": f"{__name__}_reexport.Pt"}
        assert schema_problems(Point(x=1), schema) == []
        assert schema_problems({"x": 1}, schema) != []
    finally:
        del sys.modules[f"{__name__}_reexport"]
    # a module that is not loaded cannot be checked (and is not imported)
    assert schema_problems(3, {"type": "not_loaded_anywhere.Model"}) == []
    assert "not_loaded_anywhere" not in sys.modules


def test_unknown_keywords_and_types_are_accepted() -> None:
    assert schema_problems("x", {"type": "string", "format": "email", "x-note": 1}) == []
    assert schema_problems(3, {"type": "weird"}) == []


def test_encoded_literals_are_left_to_the_site() -> None:
    literal = EncodedLiteral(encode_value({1, 2}))
    assert schema_problems(literal, {"type": "integer"}) == []
    assert schema_problems([literal], {"type": "array", "items": {"type": "string"}}) == []


def test_descriptions() -> None:
    assert ValueSchema({"type": "array", "items": {"type": "integer"}}).describe() == (
        "array of integer"
    )
    assert ValueSchema({"type": "integer", "nullable": True}).describe() == "integer or null"
    assert ValueSchema({"$ref": "#/$defs/geo.Point"}).describe() == "geo.Point"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=6,
)


@given(json_values)
def test_builtin_types_match_python_types_exactly(value: Any) -> None:
    kind = type(value)
    assert (not schema_problems(value, {"type": "integer"})) == (kind is int)
    assert (not schema_problems(value, {"type": "number"})) == (kind in (int, float))
    assert (not schema_problems(value, {"type": "boolean"})) == (kind is bool)
    assert (not schema_problems(value, {"type": "string"})) == (kind is str)
    assert (not schema_problems(value, {"type": "array"})) == (kind is list)
    assert (not schema_problems(value, {"type": "object"})) == (kind is dict)
    assert (not schema_problems(value, {"type": "null"})) == (value is None)
