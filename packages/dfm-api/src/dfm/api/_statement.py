"""Statements, expressions and blocks: the nodes a pipeline is built from."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    SerializationInfo,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from . import _build
from ._errors import summarize_validation_error
from ._literal import TAGGED_LITERAL, EncodedLiteral, load_pickled_object, load_tagged_literal
from ._markers import Advise, PlaceParam
from ._node import NodeId, NodeRef, make_auto_id
from ._polymorphic import PolymorphicBaseModel, resolve_class
from ._tagged import encode_value, is_plain_json
from ._tokens import PICKLED_TAG

if TYPE_CHECKING:
    from ._visitor import ApiVisitor


def _auto_id() -> NodeId:
    return make_auto_id(_build.next_node_id())


def to_ref(value: Any) -> Any:
    """Replace a statement by a reference to its value; other values pass unchanged."""
    if isinstance(value, Statement):
        return value.dfm_node_id.to_ref()
    return value


def _marker_from_json(value: dict[Any, Any]) -> BaseModel | None:
    # JSON of a reference or marker must come back as that object, not as a dict literal
    # (a plain dict would otherwise win the union of a dict-typed parameter).
    tag = value.get("tag")
    if tag == "@dfm-place-param":
        return PlaceParam.model_validate(value)
    if tag == "@dfm-advise":
        return Advise.model_validate(value)
    node = value.get("id")
    if set(value) == {"id", "sel", "issubs"} and isinstance(node, dict):
        if node.get("tag") == "@dfm-node":
            return NodeRef.model_validate(value)
    return None


_PLAIN = (str, int, float, bool, type(None))
_JSON_SAFE = (str, int, bool, type(None))


def _needs_tagging(value: Any) -> bool:
    """Whether a literal loses information in plain JSON (and holds no model)."""
    if isinstance(value, BaseModel) or is_plain_json(value):
        return False
    return not _holds_model(value)


def _holds_model(value: Any) -> bool:
    if isinstance(value, BaseModel):
        return True
    if isinstance(value, dict):
        return any(_holds_model(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_model(v) for v in value)
    return False


def _normalize_literal(value: Any, depth: int = 0) -> Any:
    # Statements become references at the top level and one level deep (in a list,
    # tuple or dict); tagged literals and pickled objects in JSON form are loaded at
    # any depth, inertly: what could run code stays an EncodedLiteral.
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Statement):
        return value.dfm_node_id.to_ref() if depth <= 1 else value
    if isinstance(value, dict):
        tag = value.get("tag")
        if tag in (PICKLED_TAG, TAGGED_LITERAL) and len(value) == 2 and "value" in value:
            if tag == PICKLED_TAG:
                return load_pickled_object(value)
            return load_tagged_literal(value["value"])
        if depth == 0:
            marker = _marker_from_json(value)
            if marker is not None:
                return marker
        return {k: _normalize_literal(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_literal(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_normalize_literal(v, depth + 1) for v in value)
    return value


def _normalize_fields(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if key == "dfm_body":
            out[key] = value
        elif key == "dfm_after":
            if isinstance(value, Statement):
                value = value.dfm_node_id
            elif isinstance(value, NodeRef):
                value = value.id
            out[key] = value
        else:
            out[key] = _normalize_literal(value)
    return out


_ENCODED_TAGS = frozenset({TAGGED_LITERAL, PICKLED_TAG})


def _maybe_encoded(data: dict[str, Any]) -> bool:
    # Cheap test on raw input (every statement pays it): a field value that is an
    # EncodedLiteral, or the JSON form of one.
    for value in data.values():
        kind = type(value)
        if kind is EncodedLiteral or (kind is dict and value.get("tag") in _ENCODED_TAGS):
            return True
    return False


_twins: dict[tuple[type[Any], frozenset[str]], type[Any]] = {}


def _twin(cls: type[Statement], encoded: frozenset[str]) -> type[Statement]:
    """A subclass of ``cls`` whose ``encoded`` fields are typed ``Any``, cached.

    An encoded literal cannot be checked against (or serialized as) its field's type:
    it may not even be decodable here. Statements holding one are validated and
    serialized through their twin; the statement itself stays a ``cls``.
    """
    twin = _twins.get((cls, encoded))
    if twin is None:
        annotations: dict[str, Any] = {"_dfm_twin": ClassVar[bool]}
        namespace: dict[str, Any] = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__annotations__": annotations,
            "_dfm_twin": True,
        }
        for name in encoded:
            info = cls.model_fields.get(name)
            if info is None:
                continue  # an unknown key: validation reports it
            annotations[name] = Any
            if info.default_factory is not None:
                namespace[name] = Field(default_factory=info.default_factory)
            elif not info.is_required():
                namespace[name] = Field(default=info.default)
        metaclass: Any = type(cls)
        twin = metaclass(cls.__name__, (cls,), namespace)
        _twins[(cls, encoded)] = twin
    return twin


def _encoded_fields(values: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k, v in values.items() if type(v) is EncodedLiteral)


def _validate_with_encoded(cls: type[Statement], data: dict[str, Any]) -> Statement:
    """Validate a statement some of whose parameters are encoded literals (see `_twin`)."""
    twin = _twin(cls, _encoded_fields(data))
    # The twin would resolve dfm_class_name to cls, not to itself: leave it out (its
    # default is the same) and count it as set again afterwards.
    body = {k: v for k, v in data.items() if k != "dfm_class_name"}
    with _build.detached():
        checked = twin.model_validate(body)
    fields_set = set(checked.model_fields_set) | ({"dfm_class_name"} & data.keys())
    return cls.model_construct(_fields_set=fields_set, **dict(checked))


def _dump_with_encoded(statement: Statement, info: SerializationInfo) -> Any:
    """Serialize a statement holding encoded literals through its twin (see `_twin`)."""
    twin = _twin(type(statement), _encoded_fields(statement.__dict__))
    with _build.detached():
        copy = twin.model_construct(
            _fields_set=set(statement.model_fields_set), **statement.__dict__
        )
    return copy.model_dump(
        mode=info.mode,
        include=info.include,  # type: ignore[arg-type]  # pydantic hands them over as-is
        exclude=info.exclude,  # type: ignore[arg-type]
        context=info.context,
        by_alias=info.by_alias,
        exclude_unset=info.exclude_unset,
        exclude_defaults=info.exclude_defaults,
        exclude_none=info.exclude_none,
        round_trip=info.round_trip,
    )


class Statement(PolymorphicBaseModel):
    """A node of a pipeline. Built inside ``with Pipeline():``, it adds itself to the block.

    Passing a statement where a value is expected stores a :class:`NodeRef` to it.
    ``dfm_after`` orders this statement after another one (a statement, its id, or a
    reference) when there is no data dependency between them.
    """

    dfm_node_id: NodeId = Field(default_factory=_auto_id)
    dfm_after: NodeId | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _one_error_per_field(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if not cls._dfm_concrete:
            # Abstract classes are tried as members of unions (NodeParam); their failures
            # are expected and must stay cheap.
            return handler(data)
        try:
            if type(data) is dict and _maybe_encoded(data) and not cls.__dict__.get("_dfm_twin"):
                normalized = _normalize_fields(data)
                if any(type(v) is EncodedLiteral for v in normalized.values()):
                    return _validate_with_encoded(cls, normalized)
            return handler(data)
        except ValidationError as e:
            raise ValueError(summarize_validation_error(cls, e)) from None

    @model_validator(mode="before")
    @classmethod
    def _statements_to_refs(cls, data: Any) -> Any:
        if not cls._dfm_concrete or not isinstance(data, dict):
            return data
        return _normalize_fields(data)

    @model_serializer(mode="wrap")
    def _literals_keep_their_types(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        # Plain JSON would turn a literal tuple into a list, int keys into strings and
        # choke on bytes; such literals are written in the serializer's tagged form.
        json = info.mode == "json"
        special: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            kind = type(value)
            if kind in _JSON_SAFE:
                continue
            if kind is EncodedLiteral:
                if not type(self).__dict__.get("_dfm_twin"):
                    return self._without_unset(_dump_with_encoded(self, info))
                special[name] = value.model_dump()
            elif json and _needs_tagging(value):
                special[name] = {"tag": TAGGED_LITERAL, "value": list(encode_value(value))}
        return self._without_unset(handler(self.model_copy(update=special) if special else self))

    def _without_unset(self, data: Any) -> Any:
        # Fields the user did not set are left out, so that they are still unset after a
        # round trip (an operation passes only the parameters the user set).
        unset = self._unset_parameters()
        if unset and isinstance(data, dict):
            for name in unset:
                data.pop(name, None)
        return data

    def _unset_parameters(self) -> set[str]:
        """The fields a dump leaves out because the user did not set them (none here)."""
        return set()

    def model_post_init(self, context: Any, /) -> None:
        """Add the new statement to the innermost open block."""
        _build.register(self)

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to the visitor method for this kind of statement."""
        raise NotImplementedError(type(self).__name__)


class Expression(Statement):
    """A statement with a value that other statements can reference."""

    def fieldref(self, sel: int | str, issubs: bool | None = None) -> NodeRef:
        """A reference to one item (int or key) or field of this node's value.

        Args:
            sel: An index, a mapping key, or an attribute name.
            issubs: True to subscript, False to read an attribute, None (default) to
                subscript mappings and sequences and read attributes otherwise.
        """
        return self.dfm_node_id.to_ref(sel=sel, issubs=issubs)

    def __getitem__(self, sel: int | str) -> NodeRef:
        """``node["k"]`` is ``node.fieldref("k")``."""
        return self.fieldref(sel)

    def to_ref(self) -> NodeRef:
        """A reference to this node's whole value."""
        return self.dfm_node_id.to_ref()


class Block(BaseModel):
    """A sequence of statements; used as a context manager it collects new statements."""

    dfm_body: list[SerializeAsAny[Statement]] = Field(default_factory=list)

    @field_validator("dfm_body", mode="wrap")
    @classmethod
    def _load_body_detached(cls, value: Any, handler: Any) -> Any:
        # Statements rebuilt from JSON must not add themselves to a block being built.
        # Elements naming their class are validated by that class directly, which halves
        # the work of loading large pipelines.
        with _build.detached():
            if not isinstance(value, list):
                return handler(value)
            body = []
            for item in value:
                if isinstance(item, dict) and "dfm_class_name" in item:
                    target = resolve_class(str(item["dfm_class_name"]))
                    if not (isinstance(target, type) and issubclass(target, Statement)):
                        raise ValueError(f"{item['dfm_class_name']!r} is not a Statement")
                    body.append(target.model_validate(item))
                else:
                    body.append(item)
            return handler(body)

    def add_to_body(self, statement: Statement) -> None:
        """Append a statement built outside of any scope."""
        self.dfm_body.append(statement)

    def __enter__(self) -> Self:
        _build.push_block(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _build.pop_block(self)
