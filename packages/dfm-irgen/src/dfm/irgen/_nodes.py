"""The nodes of the logical graph, and the scopes (blocks) they sit in."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from dfm.api import NodeRef, Operation, PlaceParam, Yield, describe_node

if TYPE_CHECKING:
    from dfm.api import ForEach, If, TryFromCache, WriteToCache

ScopeKind = Literal["root", "for_each", "if", "cache"]


@dataclass(eq=False)
class Scope:
    """A block body (or the pipeline itself): where a node sits.

    Attributes:
        kind: What the block is.
        block: The ident of the block node whose body this is (None for the root).
        label: How errors name the block (``ForEach %1``).
        parent: The enclosing scope.
        depth: How many ForEach bodies enclose (and include) this scope.
    """

    kind: ScopeKind
    block: str | None
    label: str
    parent: Scope | None
    depth: int

    @classmethod
    def root(cls) -> Scope:
        """The pipeline's own scope."""
        return cls("root", None, "the pipeline", None, 0)

    def child(self, kind: ScopeKind, block: str, label: str) -> Scope:
        """The body of a block built in this scope."""
        return Scope(kind, block, label, self, self.depth + (1 if kind == "for_each" else 0))

    def chain(self) -> Iterator[Scope]:
        """This scope and every enclosing one, innermost first."""
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def within(self, other: Scope) -> bool:
        """Whether this scope is ``other`` or inside it."""
        return any(s is other for s in self.chain())

    def for_each(self) -> Scope | None:
        """The innermost ForEach body this scope is in (itself included), if any."""
        return next((s for s in self.chain() if s.kind == "for_each"), None)


@dataclass
class OpNode:
    """An operation of the pipeline with its inputs sorted by kind."""

    op: Operation
    ident: str
    node_id: int | str
    scope: Scope
    refs: dict[str, NodeRef] = field(default_factory=dict)
    params: dict[str, PlaceParam] = field(default_factory=dict)
    literals: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)

    @property
    def api_name(self) -> str:
        """The operation's name in the federation config."""
        return type(self.op).__api_name__

    def describe(self) -> str:
        """How errors name this node: ``users.GreetMe (node 0)``."""
        return describe_node(self.api_name, self.op.dfm_node_id.ident)

    def input_refs(self) -> list[str]:
        """Idents of the nodes whose values (or completion) this one waits for."""
        return [ref.id.as_identifier() for ref in self.refs.values()] + self.after

    def upstream(self) -> list[str]:
        """What must be ordered before this node (inputs and the gating block)."""
        return self.input_refs() + _gate(self.scope)


@dataclass
class YieldNode:
    """A Yield: of a node's value (``ref``), of a parameter, or of a literal."""

    stmt: Yield
    ident: str
    scope: Scope
    ref: NodeRef | None = None
    param: PlaceParam | None = None


@dataclass
class ForEachNode:
    """A ForEach block: its sequence (a node's value or a parameter) and its body."""

    stmt: ForEach
    ident: str
    node_id: int | str
    scope: Scope
    body: Scope
    sequential: bool = False
    ref: NodeRef | None = None
    param: PlaceParam | None = None

    def describe(self) -> str:
        """How errors name this node: ``ForEach (node 1)``."""
        return describe_node("ForEach", self.stmt.dfm_node_id.ident)

    def input_refs(self) -> list[str]:
        """Idents of the node the sequence comes from."""
        return [self.ref.id.as_identifier()] if self.ref is not None else []

    def upstream(self) -> list[str]:
        """What must be ordered before this node."""
        return self.input_refs() + _gate(self.scope)


@dataclass
class IfNode:
    """An If block: the values its condition reads, and its body."""

    stmt: If
    ident: str
    node_id: int | str
    scope: Scope
    body: Scope
    refs: list[NodeRef] = field(default_factory=list)
    params: list[PlaceParam] = field(default_factory=list)

    def describe(self) -> str:
        """How errors name this node: ``If (node 1)``."""
        return describe_node("If", self.stmt.dfm_node_id.ident)

    def input_refs(self) -> list[str]:
        """Idents of the nodes the condition reads."""
        return list(dict.fromkeys(ref.id.as_identifier() for ref in self.refs))

    def upstream(self) -> list[str]:
        """What must be ordered before this node."""
        return self.input_refs() + _gate(self.scope)


@dataclass
class WriteNode:
    """The ``cached.cache(value)`` of a TryFromCache body."""

    stmt: WriteToCache
    scope: Scope
    ref: NodeRef | None = None
    param: PlaceParam | None = None
    literal: Any = None


@dataclass
class CacheNode:
    """A TryFromCache block: its key, its body and the value it caches."""

    stmt: TryFromCache
    ident: str
    node_id: int | str
    scope: Scope
    body: Scope
    key_ref: NodeRef | None = None
    key_param: PlaceParam | None = None
    key_literal: Any = None
    write: WriteNode | None = None

    def describe(self) -> str:
        """How errors name this node: ``TryFromCache (node 1)``."""
        return describe_node("TryFromCache", self.stmt.dfm_node_id.ident)

    def input_refs(self) -> list[str]:
        """Idents of the nodes the key and the cached value come from."""
        refs = [self.key_ref] if self.key_ref is not None else []
        if self.write is not None and self.write.ref is not None:
            refs.append(self.write.ref)
        return list(dict.fromkeys(ref.id.as_identifier() for ref in refs))

    def upstream(self) -> list[str]:
        """What must be ordered before this node."""
        return self.input_refs() + _gate(self.scope)


BlockNode: TypeAlias = ForEachNode | IfNode | CacheNode


def _gate(scope: Scope) -> list[str]:
    # A node in a ForEach or If body comes after the block's entry; a cache body's
    # entry (the lookup) is placed with the block's write, which comes after the body.
    if scope.kind in ("for_each", "if") and scope.block is not None:
        return [scope.block]
    return []


def condition_inputs(cond: Any, where: str) -> tuple[list[NodeRef], list[PlaceParam]]:
    """The node references and parameters an If condition reads, in order.

    Raises:
        ValueError: A part of the condition is neither an expression nor an atom.
    """
    from dfm.api import And, Not, Or

    refs: list[NodeRef] = []
    params: list[PlaceParam] = []

    def walk(e: Any) -> None:
        if isinstance(e, (And, Or)):
            for sub in e.exp:
                walk(sub)
        elif isinstance(e, Not):
            walk(e.exp)
        elif hasattr(e, "left") and hasattr(e, "right"):
            walk(e.left)
            walk(e.right)
        elif isinstance(e, NodeRef):
            refs.append(e)
        elif isinstance(e, PlaceParam):
            params.append(e)
        elif isinstance(e, dict):
            raise ValueError(
                f"The condition of {where} holds a dict literal, which is not allowed in a "
                "condition (it would be ambiguous with an expression)"
            )

    walk(cond)
    return refs, params


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a cache key (sorted keys, no spaces).

    Tuples count as lists. Raises ValueError for anything else that is not JSON: sets,
    bytes, non-finite floats, non-str dict keys, objects.
    """
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    kind = type(value)
    if value is None or kind in (str, int, bool):
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return value
    if kind in (list, tuple):
        return [_plain(v) for v in value]
    if kind is dict:
        bad = [k for k in value if type(k) is not str]
        if bad:
            raise ValueError(f"dict key {bad[0]!r} is not a str")
        return {k: _plain(v) for k, v in value.items()}
    raise ValueError(f"a {kind.__name__} is not a JSON value")
