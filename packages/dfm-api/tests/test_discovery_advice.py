"""The advice model of dfm.api.discovery: values, helpers and the JSON round trip."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import TypeAdapter

from dfm.api import DecodePolicy, NodeId, decode_value, encode_value
from dfm.api.discovery import (
    AdvisedDateRange,
    AdvisedDict,
    AdvisedError,
    AdvisedLiteral,
    AdvisedOneOf,
    AdvisedSubsetOf,
    AdvisedValue,
    AnyAdvisedValue,
    AnyFieldAdvice,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    FieldAdvice,
    Okay,
    PartialFieldAdvice,
    SingleFieldAdvice,
)

XL_ERROR = "Expected one of ['S', 'M'] but got XL"


def shirts() -> BranchFieldAdvice:
    """The advice of the spec's exp06 for color and size both to be advised."""
    return BranchFieldAdvice(
        "color",
        [
            ("red", SingleFieldAdvice("size", AdvisedOneOf(["S", "M"]))),
            ("green", SingleFieldAdvice("size", AdvisedLiteral("L"))),
        ],
    )


def bad_size() -> SingleFieldAdvice:
    """The advice of exp06 for color="red", size="XL"."""
    return SingleFieldAdvice("size", "XL", edge=ErrorFieldAdvice(XL_ERROR))


# -- advised values --------------------------------------------------------------


@pytest.mark.parametrize(
    ("advice", "good", "bad", "message"),
    [
        (AdvisedLiteral("L"), "L", "M", "Expected 'L' but got M"),
        (AdvisedOneOf(["S", "M"]), "M", "XL", XL_ERROR),
        (AdvisedSubsetOf(["a", "b"]), ["b", "a"], ["a", "c"], "(['c'] not allowed)"),
        (AdvisedSubsetOf(["a", "b"]), (), "a", "(a list) but got 'a'"),
        (AdvisedDict({"u": AdvisedOneOf(["K", "C"])}), {"u": "K"}, {"u": "F"}, "key 'u': "),
        (AdvisedDict({"u": Okay()}), {"u": 1}, {}, "missing key 'u'"),
        (AdvisedDict({"u": Okay()}), {"u": 1}, {"u": 1, "v": 2}, "unexpected keys ['v']"),
        (AdvisedDict({"u": Okay()}, allow_extras=True), {"u": 1, "v": 2}, 3, "Expected a dict"),
        (
            AdvisedDateRange(dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
            dt.date(2020, 6, 1),
            dt.date(2021, 1, 1),
            "Expected a date between 2020-01-01 and 2020-12-31 but got 2021-01-01",
        ),
        (AdvisedDateRange(dt.date(2020, 1, 1)), "2030-01-01", "2019-12-31", "got 2019-12-31"),
        (AdvisedDateRange(end=dt.date(2020, 1, 1)), dt.datetime(2020, 1, 1, 23), "x", "got 'x'"),
        (AdvisedError("no blue shirts"), None, "anything", "no blue shirts"),
    ],
)
def test_validation(advice: AdvisedValue, good: Any, bad: Any, message: str) -> None:
    if not isinstance(advice, AdvisedError):
        assert advice.validation_error(good) is None
    error = advice.validation_error(bad)
    assert error is not None and message in error


def test_okay_accepts_anything_and_offers_itself() -> None:
    assert Okay().validation_error(object()) is None
    assert Okay().options() == [Okay()]


def test_options_and_satisfiability() -> None:
    assert AdvisedLiteral(3).options() == [3]
    assert AdvisedOneOf(("a", "b")).options() == ["a", "b"]
    assert AdvisedSubsetOf(["a"]).options() == ["a"]
    assert AdvisedError("x").options() == []
    rng = AdvisedDateRange(dt.date(2020, 1, 1), dt.date(2020, 2, 1))
    assert rng.options() == [rng]
    assert not AdvisedOneOf([]).is_satisfiable()
    assert not AdvisedError("x").is_satisfiable()
    assert not AdvisedDateRange(dt.date(2021, 1, 1), dt.date(2020, 1, 1)).is_satisfiable()
    assert not AdvisedDict({"k": AdvisedOneOf([])}).is_satisfiable()
    assert AdvisedDict({"k": AdvisedLiteral(1)}).is_satisfiable()


def test_positional_and_keyword_construction_agree() -> None:
    assert AdvisedOneOf(["S"], split_on_advice=True) == AdvisedOneOf(
        values=["S"], split_on_advice=True
    )
    assert AdvisedLiteral("L") == AdvisedLiteral(value="L")
    assert AdvisedError("m") == AdvisedError(msg="m")
    assert ErrorFieldAdvice("m") == ErrorFieldAdvice(msg="m")
    assert SingleFieldAdvice("f", Okay()) == SingleFieldAdvice(field="f", value=Okay(), edge=None)


def test_aware_and_naive_datetimes_do_not_crash_validation() -> None:
    rng = AdvisedDateRange(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    error = rng.validation_error(dt.datetime(2020, 6, 1))
    assert error is not None and "Cannot compare" in error


# -- the client helpers ----------------------------------------------------------


def test_branch_helpers_on_the_exp06_advice() -> None:
    advice = shirts()
    assert advice.has_good_options()
    assert list(advice) == ["red", "green"]
    red = advice.select("red")
    assert red == SingleFieldAdvice("size", AdvisedOneOf(["S", "M"]))
    assert red is not None and list(red) == ["S", "M"] and red.select("M") is None
    green = advice.select("green")
    assert green is not None and list(green) == ["L"]
    assert advice.collect_error_messages() == []
    with pytest.raises(ValueError, match="'blue' is not an advised value of field 'color'"):
        advice.select("blue")
    with pytest.raises(ValueError, match="'XL' is not a good value for field 'size'"):
        red.select("XL")


def test_single_with_an_error_edge_iterates_to_nothing() -> None:
    # The reference raised a bare StopIteration here (spec §10 item 21).
    advice = bad_size()
    assert list(advice) == [] and advice.good_values() == []
    assert not advice.has_good_options()
    assert advice.collect_error_messages() == [XL_ERROR]
    with pytest.raises(ValueError, match=r"Field 'size' = 'XL' cannot work: Expected one of"):
        advice.select("XL")
    with pytest.raises(ValueError, match="was given as 'XL'"):
        advice.select("S")


def test_errors_are_collected_once_in_depth_first_order() -> None:
    advice = BranchFieldAdvice(
        "a",
        [
            (1, ErrorFieldAdvice("first")),
            (2, SingleFieldAdvice("b", AdvisedError("second"), ErrorFieldAdvice("second"))),
            (3, ErrorFieldAdvice("first")),
            (4, None),
        ],
    )
    assert advice.collect_error_messages() == ["first", "second"]
    assert advice.has_good_options() and list(advice) == [4]
    with pytest.raises(ValueError, match="first"):
        advice.select(1)
    assert advice.select(4) is None


def test_a_branch_where_every_value_fails_has_no_good_options() -> None:
    advice = BranchFieldAdvice("a", [(1, ErrorFieldAdvice("x")), (2, ErrorFieldAdvice("y"))])
    assert not advice.has_good_options() and list(advice) == []


def test_unsatisfiable_single_has_no_good_options() -> None:
    advice = SingleFieldAdvice("a", AdvisedOneOf([]))
    assert not advice.has_good_options() and list(advice) == []
    err = SingleFieldAdvice("a", AdvisedError("none"), ErrorFieldAdvice("none"))
    with pytest.raises(ValueError, match="has no good value: none"):
        err.select(1)


def test_partial_advice() -> None:
    advice = SingleFieldAdvice("region", AdvisedOneOf(["eu", "us"]), PartialFieldAdvice())
    assert advice.has_good_options() and list(advice) == ["eu", "us"]
    with pytest.raises(ValueError, match="set region='eu' in the pipeline"):
        advice.select("eu")
    assert list(PartialFieldAdvice()) == [] and PartialFieldAdvice().has_good_options()
    with pytest.raises(ValueError, match="run discovery again"):
        PartialFieldAdvice().select(1)


def test_error_advice() -> None:
    advice = ErrorFieldAdvice("broken")
    assert not advice.has_good_options() and list(advice) == []
    assert advice.collect_error_messages() == ["broken"]
    with pytest.raises(ValueError, match="broken"):
        advice.select(1)


def test_iteration_of_non_enumerable_advice_gives_the_advice() -> None:
    rng = AdvisedDateRange(dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert list(SingleFieldAdvice("day", rng)) == [rng]
    assert SingleFieldAdvice("day", rng).select("2020-01-15") is None


def test_the_base_classes_are_abstract() -> None:
    with pytest.raises(NotImplementedError):
        AdvisedValue().validation_error(1)
    with pytest.raises(NotImplementedError):
        FieldAdvice().has_good_options()


# -- JSON ------------------------------------------------------------------------

ALL_ADVICE: list[Any] = [
    shirts(),
    bad_size(),
    ErrorFieldAdvice("x"),
    PartialFieldAdvice(),
    SingleFieldAdvice(
        "cfg",
        AdvisedDict(
            {
                "unit": AdvisedOneOf(["K", "C"], split_on_advice=True, break_on_advice=True),
                "inner": AdvisedDict({"x": Okay()}, allow_extras=True),
                "vars": AdvisedSubsetOf(["t2m", "u10"]),
            }
        ),
        PartialFieldAdvice(),
    ),
    SingleFieldAdvice(
        "when",
        AdvisedDateRange(dt.date(2020, 1, 1), dt.datetime(2020, 5, 1, 3)),
        SingleFieldAdvice("why", AdvisedError("no"), ErrorFieldAdvice("no")),
    ),
    SingleFieldAdvice(
        "at",
        AdvisedDateRange(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), None),
    ),
    SingleFieldAdvice("given", {"tag": "not advice", "v": [1, 2]}, ErrorFieldAdvice("bad")),
    BranchFieldAdvice("n", [(1, None), (2.5, PartialFieldAdvice()), (None, None)]),
]


@pytest.mark.parametrize("advice", ALL_ADVICE)
def test_advice_round_trips_through_json(advice: FieldAdvice) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(AnyFieldAdvice)
    text = adapter.dump_json(advice)
    back = adapter.validate_json(text)
    assert back == advice and type(back) is type(advice)
    assert type(advice).model_validate_json(advice.model_dump_json()) == advice


@pytest.mark.parametrize(
    "value",
    [
        AdvisedLiteral({"a": 1}),
        AdvisedOneOf([1, "two", None]),
        AdvisedSubsetOf([]),
        AdvisedDateRange(dt.date(2020, 1, 1), dt.date(2020, 1, 2)),
        AdvisedError("m"),
        Okay(break_on_advice=True),
    ],
)
def test_advised_values_round_trip_through_json(value: AdvisedValue) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(AnyAdvisedValue)
    assert adapter.validate_json(adapter.dump_json(value)) == value


def test_a_discovery_report_crosses_sites_as_json() -> None:
    report = [
        (NodeId(ident=0), shirts()),
        (NodeId(ident="mine"), None),
        (NodeId(ident=2), bad_size()),
    ]
    tagged = encode_value(report)
    assert tagged[0] == "pyjson"  # not a pickle
    back = decode_value(tagged, DecodePolicy())  # a policy that refuses pickles
    assert back == report
    assert dict(back)[NodeId(ident=0)] == shirts()


def test_describe_reads_like_the_advice() -> None:
    assert shirts().describe() == "\n".join(
        [
            "color:",
            "  = 'red'",
            "    size: one of ['S', 'M']",
            "  = 'green'",
            "    size: 'L'",
        ]
    )
    assert bad_size().describe() == f"size = 'XL'\n  error: {XL_ERROR}"
    chained = SingleFieldAdvice(
        "cfg",
        AdvisedDict({"unit": AdvisedSubsetOf(["K"]), "ok": Okay()}, allow_extras=True),
        SingleFieldAdvice(
            "day",
            AdvisedDateRange(dt.date(2020, 1, 1)),
            SingleFieldAdvice("why", AdvisedError("none"), PartialFieldAdvice()),
        ),
    )
    assert chained.describe().splitlines() == [
        "cfg: a dict {'unit': any of ['K'], 'ok': any value, ...}",
        "day: a date from 2020-01-01 to any time",
        "why: no good value: none",
        "  (not explored further: choose the value above, then ask again)",
    ]
    assert ErrorFieldAdvice("x").describe() == "error: x"
    with pytest.raises(NotImplementedError):
        AdvisedValue().describe()
