"""The advice builder: field advisors walked in order over partial assignments."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from dfm.api import Advise, DecodePolicy, NodeId, PlaceParam, decode_value, encode_value
from dfm.api.discovery import (
    AdvisedError,
    AdvisedLiteral,
    AdvisedOneOf,
    AdvisedSubsetOf,
    AdvisedValue,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    Okay,
    PartialFieldAdvice,
    SingleFieldAdvice,
)
from dfm.runtime import AdviceContext, advice_report, build_advice, discover, field_advisor

XL_ERROR = "Expected one of ['S', 'M'] but got XL"


class Shirts:
    """The spec's exp06 adapter: color splits, size depends on the color."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def _seen(self, field: str, value: Any, context: AdviceContext) -> None:
        self.calls.append((field, value, {name: context.get(name) for name in context}))

    @field_advisor("color", order=0)
    async def advise_color(self, value: Any, context: AdviceContext) -> AdvisedValue:
        self._seen("color", value, context)
        return AdvisedOneOf(["red", "green"], split_on_advice=True)

    @field_advisor("size", order=1)
    def advise_size(self, value: Any, context: AdviceContext) -> AdvisedValue:
        self._seen("size", value, context)
        if context.get("color") == "red":
            return AdvisedOneOf(["S", "M"])
        return AdvisedLiteral("L")

    async def body(self, color: str, size: str) -> str:
        return f"{color} {size}"


EXP06_BOTH_ADVISED = BranchFieldAdvice(
    "color",
    [
        ("red", SingleFieldAdvice("size", AdvisedOneOf(["S", "M"]))),
        ("green", SingleFieldAdvice("size", AdvisedLiteral("L"))),
    ],
)


async def test_exp06_both_fields_advised() -> None:
    shirts = Shirts()
    advice = await build_advice(shirts, color=Advise(), size=Advise())
    assert advice == EXP06_BOTH_ADVISED
    # size was advised once per color, each time seeing that color.
    assert [(f, c) for f, _, c in shirts.calls] == [
        ("color", {}),
        ("size", {"color": "red"}),
        ("size", {"color": "green"}),
    ]
    assert all(isinstance(value, Advise) for _, value, _ in shirts.calls)


async def test_exp06_a_bad_given_value() -> None:
    advice = await build_advice(Shirts(), color="red", size="XL")
    assert advice == SingleFieldAdvice("size", "XL", edge=ErrorFieldAdvice(XL_ERROR))
    assert advice is not None and list(advice) == [] and not advice.has_good_options()


async def test_no_advisors_and_all_good_values_give_none() -> None:
    class Plain:
        async def body(self, x: int) -> int:
            return x

    assert await build_advice(Plain(), x=Advise()) is None
    assert await build_advice(Shirts(), color="red", size="M") is None
    assert await build_advice(Shirts(), color="green", size="L") is None


async def test_missing_and_place_param_fields_are_advised() -> None:
    # A parameter left out (or a PlaceParam, which the compiler turns into Advise())
    # is advised like Advise().
    assert await build_advice(Shirts()) == EXP06_BOTH_ADVISED
    advice = await build_advice(Shirts(), color="green")
    assert advice == SingleFieldAdvice("size", AdvisedLiteral("L"))


async def test_a_given_value_checked_on_every_branch() -> None:
    advice = await build_advice(Shirts(), size="S")
    assert advice == BranchFieldAdvice(
        "color",
        [
            ("red", None),
            ("green", SingleFieldAdvice("size", "S", ErrorFieldAdvice("Expected 'L' but got S"))),
        ],
    )
    assert advice is not None and list(advice) == ["red"]
    assert advice.select("red") is None
    assert advice.collect_error_messages() == ["Expected 'L' but got S"]


async def test_a_given_value_does_not_split() -> None:
    shirts = Shirts()
    advice = await build_advice(shirts, color="red", size=Advise())
    assert advice == SingleFieldAdvice("size", AdvisedOneOf(["S", "M"]))
    assert shirts.calls[0][1] == "red"  # the advisor sees the given value


async def test_a_bad_given_split_value_ends_the_advice() -> None:
    shirts = Shirts()
    advice = await build_advice(shirts, color="blue", size=Advise())
    expected = "Expected one of ['red', 'green'] but got blue"
    assert advice == SingleFieldAdvice("color", "blue", ErrorFieldAdvice(expected))
    assert [c[0] for c in shirts.calls] == ["color"]  # size is not explored


class Ordered:
    def __init__(self) -> None:
        self.order: list[str] = []

    def _note(self, name: str) -> AdvisedValue:
        self.order.append(name)
        return Okay()

    @field_advisor("last", order=-1)
    def a(self, value: Any, context: AdviceContext) -> AdvisedValue:
        return self._note("last")

    @field_advisor("second", order=5)
    def b(self, value: Any, context: AdviceContext) -> AdvisedValue:
        return self._note("second")

    @field_advisor("before_last", order=-2)
    def c(self, value: Any, context: AdviceContext) -> AdvisedValue:
        return self._note("before_last")

    @field_advisor("first", order=0)
    def d(self, value: Any, context: AdviceContext) -> AdvisedValue:
        return self._note("first")

    @field_advisor("tie", order=5)
    def e(self, value: Any, context: AdviceContext) -> AdvisedValue:
        return self._note("tie")


async def test_order_non_negative_ascending_then_negative() -> None:
    adapter = Ordered()
    advice = await build_advice(adapter)
    assert adapter.order == ["first", "second", "tie", "before_last", "last"]
    # Okay for every advised field: a chain of single nodes.
    fields = []
    node: Any = advice
    while node is not None:
        fields.append(node.field)
        assert node.value == Okay()
        node = node.edge
    assert fields == adapter.order


async def test_subclasses_replace_and_remove_advisors() -> None:
    class Child(Ordered):
        @field_advisor("first2", order=0)
        def d(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return self._note("child")

        def a(self, value: Any, context: AdviceContext) -> AdvisedValue:  # not an advisor
            return self._note("never")

    adapter = Child()
    await build_advice(adapter)
    assert adapter.order == ["child", "second", "tie", "before_last"]


async def test_failing_advisor_becomes_error_advice_on_its_branch_only() -> None:
    class Fragile(Shirts):
        @field_advisor("size", order=1)
        def advise_size(self, value: Any, context: AdviceContext) -> AdvisedValue:
            if context.get("color") == "green":
                raise RuntimeError("no stock data for green")
            return AdvisedOneOf(["S"])

    advice = await build_advice(Fragile())
    message = (
        "test_failing_advisor_becomes_error_advice_on_its_branch_only.<locals>.Fragile."
        "advise_size (advisor of 'size') failed: RuntimeError: no stock data for green"
    )
    assert advice == BranchFieldAdvice(
        "color",
        [
            ("red", SingleFieldAdvice("size", AdvisedOneOf(["S"]))),
            ("green", ErrorFieldAdvice(message)),
        ],
    )


async def test_advisor_returning_something_else_is_an_error() -> None:
    class Wrong:
        @field_advisor("x")
        async def advise(self, value: Any, context: AdviceContext) -> Any:
            return ["a", "b"]

    advice = await build_advice(Wrong())
    assert isinstance(advice, ErrorFieldAdvice)
    assert "advise (advisor of 'x') failed: TypeError: it returned list" in advice.msg


async def test_failing_validation_is_an_error_too() -> None:
    class BadCheck(AdvisedValue):
        def validation_error(self, value: Any) -> str | None:
            raise KeyError("boom")

    class Adapter:
        @field_advisor("x")
        def advise(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return BadCheck()

    advice = await build_advice(Adapter(), x=1)
    assert isinstance(advice, ErrorFieldAdvice) and "KeyError: 'boom'" in advice.msg


async def test_advised_error_ends_the_path() -> None:
    class Stock(Shirts):
        @field_advisor("size", order=1)
        def advise_size(self, value: Any, context: AdviceContext) -> AdvisedValue:
            if context.get("color") == "green":
                return AdvisedError("green is sold out")
            return AdvisedLiteral("M")

        @field_advisor("fit", order=2)
        def advise_fit(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedOneOf(["slim", "wide"])

    advice = await build_advice(Stock())
    assert advice == BranchFieldAdvice(
        "color",
        [
            (
                "red",
                SingleFieldAdvice(
                    "size",
                    AdvisedLiteral("M"),
                    SingleFieldAdvice("fit", AdvisedOneOf(["slim", "wide"])),
                ),
            ),
            (
                "green",
                SingleFieldAdvice(
                    "size", AdvisedError("green is sold out"), ErrorFieldAdvice("green is sold out")
                ),
            ),
        ],
    )
    assert advice is not None and list(advice) == ["red"]
    assert advice.collect_error_messages() == ["green is sold out"]
    # A given value against an AdvisedError fails with its message.
    given = await build_advice(Stock(), color="green", size="M", fit="slim")
    assert given == SingleFieldAdvice("size", "M", ErrorFieldAdvice("green is sold out"))


async def test_break_on_advice_stops_exploring() -> None:
    class Region:
        def __init__(self) -> None:
            self.later = 0

        @field_advisor("region", order=0)
        def advise_region(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedOneOf(["eu", "us"], break_on_advice=True)

        @field_advisor("dataset", order=1)
        def advise_dataset(self, value: Any, context: AdviceContext) -> AdvisedValue:
            self.later += 1
            return AdvisedLiteral(f"{context.get('region')}-data")

    adapter = Region()
    advice = await build_advice(adapter)
    assert advice == SingleFieldAdvice(
        "region", AdvisedOneOf(["eu", "us"], break_on_advice=True), PartialFieldAdvice()
    )
    assert adapter.later == 0
    # Once the region is given, the rest is advised.
    given = await build_advice(adapter, region="eu")
    assert given == SingleFieldAdvice("dataset", AdvisedLiteral("eu-data"))


async def test_split_with_break_gives_partial_branches() -> None:
    class Adapter:
        @field_advisor("a")
        def advise_a(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedOneOf([1, 2], split_on_advice=True, break_on_advice=True)

        @field_advisor("b", order=1)
        def advise_b(self, value: Any, context: AdviceContext) -> AdvisedValue:
            raise AssertionError("not explored")

    advice = await build_advice(Adapter())
    assert advice == BranchFieldAdvice("a", [(1, PartialFieldAdvice()), (2, PartialFieldAdvice())])
    assert advice is not None and list(advice) == [1, 2]


async def test_context_sees_given_assumed_and_literal_values() -> None:
    seen: dict[str, Any] = {}

    class Adapter:
        @field_advisor("kind", order=0)
        def advise_kind(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedLiteral("grid")

        @field_advisor("vars", order=1)
        def advise_vars(self, value: Any, context: AdviceContext) -> AdvisedValue:
            seen.update(
                kind=context.get("kind"),
                level=context.get("level"),
                unknown=context.get("unknown", "dflt"),
                advised=context.get("res", "dflt"),
                has_level="level" in context,
                has_res="res" in context,
                names=sorted(context),
            )
            return AdvisedSubsetOf(["t2m"])

    advice = await build_advice(Adapter(), level=850, res=Advise())
    assert seen == {
        "kind": "grid",  # a literal advice is assumed by later advisors
        "level": 850,
        "unknown": "dflt",
        "advised": "dflt",  # to be advised, nothing assumed yet
        "has_level": True,
        "has_res": False,
        "names": ["kind", "level"],
    }
    assert advice == SingleFieldAdvice(
        "kind", AdvisedLiteral("grid"), SingleFieldAdvice("vars", AdvisedSubsetOf(["t2m"]))
    )
    assert "AdviceContext(" in repr(AdviceContext({"a": 1}, {}))


async def test_sync_advisors_run_off_the_loop_async_ones_on_it() -> None:
    threads: dict[str, threading.Thread] = {}

    class Adapter:
        @field_advisor("a")
        def advise_a(self, value: Any, context: AdviceContext) -> AdvisedValue:
            threads["a"] = threading.current_thread()
            return Okay()

        @field_advisor("b", order=1)
        async def advise_b(self, value: Any, context: AdviceContext) -> AdvisedValue:
            threads["b"] = threading.current_thread()
            await asyncio.sleep(0)
            return Okay()

        @field_advisor("c", order=2)
        def advise_c(self, value: Any, context: AdviceContext) -> Any:
            async def later() -> AdvisedValue:
                return AdvisedLiteral(3)

            return later()  # a sync advisor may return an awaitable

    advice = await build_advice(Adapter(), a=1, b=2)
    assert advice == SingleFieldAdvice("c", AdvisedLiteral(3))
    assert threads["b"] is threading.current_thread()
    assert threads["a"] is not threading.current_thread() and threads["a"].daemon


async def test_two_advisors_for_one_field_are_an_error() -> None:
    class Twice:
        @field_advisor("x")
        def one(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return Okay()

        @field_advisor("x", order=1)
        def two(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return Okay()

    advice = await build_advice(Twice())
    assert isinstance(advice, ErrorFieldAdvice)
    assert "two advisors for field 'x' (one and two)" in advice.msg


def test_field_advisor_rejects_bad_declarations() -> None:
    with pytest.raises(ValueError, match="name of a body parameter"):
        field_advisor("not a name")
    with pytest.raises(ValueError, match="identifier"):
        field_advisor("class")
    with pytest.raises(TypeError, match="takes a parameter name"):
        field_advisor(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes an int"):
        field_advisor("x", order=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes an int"):
        field_advisor("x", order=True)
    with pytest.raises(TypeError, match="decorates a method"):
        field_advisor("x")(3)  # type: ignore[type-var]


async def test_static_and_class_method_advisors() -> None:
    class Adapter:
        @staticmethod
        @field_advisor("a")
        def advise_a(value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedLiteral(1)

        @classmethod
        @field_advisor("b", order=1)
        def advise_b(cls, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedLiteral(2)

    advice = await build_advice(Adapter())
    assert advice == SingleFieldAdvice(
        "a", AdvisedLiteral(1), SingleFieldAdvice("b", AdvisedLiteral(2))
    )


async def test_advisor_calls_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import dfm.runtime._advice as advice_module

    monkeypatch.setattr(advice_module, "MAX_ADVISOR_CALLS", 3)

    class Wide:
        @field_advisor("a", order=0)
        def advise_a(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedOneOf([1, 2, 3], split_on_advice=True)

        @field_advisor("b", order=1)
        def advise_b(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedLiteral(context.get("a"))

    advice = await build_advice(Wide())
    assert advice == BranchFieldAdvice(
        "a",
        [
            (1, SingleFieldAdvice("b", AdvisedLiteral(1))),
            (2, SingleFieldAdvice("b", AdvisedLiteral(2))),
            (3, PartialFieldAdvice()),
        ],
    )


async def test_the_advice_survives_the_wire() -> None:
    advice = await build_advice(Shirts())
    report = advice_report((0, advice), ("named", None))
    assert report == [(NodeId(ident=0), EXP06_BOTH_ADVISED), (NodeId(ident="named"), None)]
    assert decode_value(encode_value(report), DecodePolicy()) == report


class Site:
    """A hand-written site: discover methods of every shape."""

    def __init__(self) -> None:
        self.shirts = Shirts()
        self.prov = self

    async def discover_ops_Shirt(self, **kwargs: Any) -> Any:
        return await build_advice(self.shirts, **kwargs)

    def discover_ops_Sync(self, **kwargs: Any) -> Any:
        return SingleFieldAdvice("x", Okay())

    async def discover_ops_Raises(self, **kwargs: Any) -> Any:
        raise LookupError("no catalogue")

    def discover_ops_Wrong(self, **kwargs: Any) -> Any:
        return 42


async def test_discover_calls_the_site_and_never_raises() -> None:
    site = Site()
    assert await discover(site, "discover_ops_Shirt", color="red", size="XL") == SingleFieldAdvice(
        "size", "XL", ErrorFieldAdvice(XL_ERROR)
    )
    assert await discover(site, "prov.discover_ops_Shirt") == EXP06_BOTH_ADVISED
    assert await discover(site, "discover_ops_Sync") == SingleFieldAdvice("x", Okay())
    raised = await discover(site, "discover_ops_Raises")
    assert raised == ErrorFieldAdvice(
        "Discovery with discover_ops_Raises failed: LookupError: no catalogue"
    )
    missing = await discover(site, "discover_ops_Gone")
    assert isinstance(missing, ErrorFieldAdvice) and "AttributeError" in missing.msg
    wrong = await discover(site, "discover_ops_Wrong")
    assert wrong == ErrorFieldAdvice(
        "discover_ops_Wrong returned int, not field advice (see dfm.runtime.build_advice)"
    )
    # Parameters named like discover's own arguments pass through.
    assert await discover(site, "discover_ops_Sync", target=1, method=2) is not None


def test_place_param_is_not_a_given_value() -> None:
    # The compiler replaces PlaceParams by Advise() in discovery; a PlaceParam object
    # reaching an advisor would be a concrete (and wrong) value.
    assert not isinstance(PlaceParam(place="p"), Advise)


async def test_advice_that_cannot_travel_as_json_is_an_error() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    class Adapter:
        @field_advisor("x")
        def advise_x(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedOneOf([Opaque()])

    advice = await build_advice(Adapter())
    assert isinstance(advice, ErrorFieldAdvice)
    assert "advise_x (advisor of 'x') failed: PydanticSerializationError" in advice.msg


async def test_a_bad_given_value_json_cannot_carry_is_shown_by_its_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    class Adapter:
        @field_advisor("y")
        def advise_y(self, value: Any, context: AdviceContext) -> AdvisedValue:
            return AdvisedLiteral(1)

    advice = await build_advice(Adapter(), y=Opaque())
    assert advice == SingleFieldAdvice(
        "y", "<opaque>", ErrorFieldAdvice("Expected 1 but got <opaque>")
    )
    assert decode_value(encode_value([advice]), DecodePolicy()) == [advice]
