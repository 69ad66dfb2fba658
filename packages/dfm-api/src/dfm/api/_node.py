"""Node identity and references between pipeline nodes."""

from __future__ import annotations

import keyword
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator


class NodeId(BaseModel):
    """The identity of a pipeline node: an auto-assigned int or a user-chosen name."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tag: Literal["@dfm-node"] = "@dfm-node"
    ident: int | str

    @field_validator("ident")
    @classmethod
    def _ident_is_identifier(cls, value: int | str) -> int | str:
        if isinstance(value, str) and (not value.isidentifier() or keyword.iskeyword(value)):
            raise ValueError(
                f"NodeId.ident {value!r} is not a valid identifier: use letters, digits and "
                "underscores, not starting with a digit, and not a Python keyword"
            )
        return value

    def __str__(self) -> str:
        return f"%{self.ident}" if isinstance(self.ident, int) else f"#{self.ident}"

    def as_identifier(self) -> str:
        """The name of this node in generated code and in the compiler's graph."""
        return f"node{self.ident}" if isinstance(self.ident, int) else self.ident

    def to_ref(self, sel: int | str | None = None, issubs: bool | None = None) -> NodeRef:
        """A reference to this node's value, optionally to one field or item of it."""
        return NodeRef(id=self, sel=sel, issubs=issubs)


class NodeRef(BaseModel):
    """A reference to the value of another node, optionally selecting a part of it.

    ``sel`` picks an item or field: an int is always an index. For a str, ``issubs``
    decides: True subscripts (``v["k"]``), False reads an attribute (``v.k``), and None
    (the default) subscripts mappings and reads attributes of anything else.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: NodeId
    sel: int | str | None = None
    issubs: bool | None = None


def describe_node(what: str | None, node_id: int | str | None, site: str | None = None) -> str:
    """How every message names a pipeline node: ``stats.Summarize (node 3) on south``.

    Args:
        what: The operation's API name (``stats.Summarize``) or the block's kind
            (``ForEach``, ``If``, ``TryFromCache``, ``Yield``); None when unknown.
        node_id: The node's id (an auto-assigned int or a chosen name), if known.
        site: The site it runs on, if known.
    """
    parts = [what] if what else []
    if node_id is not None:
        parts.append(f"(node {node_id})")
    elif not parts:
        parts.append("(no node)")
    if site:
        parts.append(f"on {site}")
    return " ".join(parts)


def make_auto_id(n: int) -> NodeId:
    """The node id the pipeline builder assigns to the n-th node."""
    return NodeId(ident=n)


def well_known_id(name: int | str) -> NodeId:
    """A user-chosen node id; ints become ``wkid<n>``. Keep them unique per pipeline."""
    return NodeId(ident=name if isinstance(name, str) else f"wkid{name}")
