"""The state of one config load: issues found so far, refs, pydantic error translation."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ._errors import ConfigIssue, ConfigPath, format_path
from ._hints import unknown_key_hint
from ._operations import OperationConfig
from ._refs import Node, RefError, Resolver, Source

__all__ = ["LOADER_CONTEXT", "REF_POSITIONS", "BuildContext", "key_hint"]

M = TypeVar("M", bound=BaseModel)

#: Where references may appear, for the message about a misplaced ``$ref``.
REF_POSITIONS = (
    "entries of schemas, operations, sites, interfaces, providers and parameters "
    "(or a '$ref' list merging mappings into those)"
)

#: Validation context of the loader: models skip the cross-field checks the loader
#: runs itself on the raw data (which also run when other fields are wrong).
LOADER_CONTEXT = {"dfm_loader": True}

_SHAPE_MESSAGES = {
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
}


_BAD_REF = (
    "$ref must be a reference like 'file.yaml#/a/b' (the whole entry is that object) or "
    "a list of references to mappings whose entries are merged in"
)


def key_hint(key: Any) -> str:
    """Explain a non-string mapping key (YAML reads ``on``/``no``/``1`` unquoted as values).

    Args:
        key: The offending key.

    Returns:
        A sentence fragment to append to a message, or ``""``.
    """
    if isinstance(key, bool | int | float) or key is None:
        return (
            " (YAML reads unquoted on/off/yes/no/true/false/null and numbers as values: "
            "quote the key)"
        )
    return ""


def _as_written(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # A scalar accepted for a list (``type: string``) or a mapping (``adapter:
    # pkg.Class`` for ``{path: pkg.Class}``) is reported where it was written, not at
    # the item ``[0]`` or key pydantic made of it.
    value = data
    for index, part in enumerate(loc):
        if isinstance(value, str):
            return loc[:index]
        if isinstance(part, int) and not isinstance(value, list):
            return loc
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return loc
    return loc


def _file_name(file: Path | None) -> str:
    return file.name if file is not None else "<config>"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# Fields that may be omitted (or null) but, when given, must be positive.
_OPTIONAL_POSITIVE = {
    "bandwidth": "bytes per second; leave it out, or null, when the size sent does not matter",
    "compute_throughput": (
        "input bytes per second; leave it out, or null, when input size does not matter"
    ),
}


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        if key == "$ref":
            return f"'$ref' is not allowed here; references may replace {REF_POSITIONS}"
        hint = unknown_key_hint(model, loc[:-1], key) if isinstance(key, str) else ""
        return f"unknown key {key!r}{hint}"
    if kind in ("greater_than", "greater_than_equal"):
        bound = error.get("ctx", {}).get("gt" if kind == "greater_than" else "ge")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        rel = ">" if kind == "greater_than" else ">="
        note = _OPTIONAL_POSITIVE.get(str(loc[-1])) if loc else None
        hint = f" ({note})" if note else ""
        return f"must be {rel} {bound}{hint}, got {_short(error['input'])}"
    if kind == "finite_number":
        return f"must be a finite number, got {_short(error['input'])}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}" if loc else "missing value"
    if loc and loc[-1] in ("api-version", "api_version") and kind != "missing":
        value = error["input"]
        hint = " (YAML read it as a number: quote it)" if not isinstance(value, str) else ""
        return f"must be a version of the form X.Y.Z (like 1.0.0), got {_short(value)}{hint}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "?")
        return f"expected {expected}, got {_short(error['input'])}"
    if kind in _SHAPE_MESSAGES:
        return f"{_SHAPE_MESSAGES[kind]}, got {_short(error['input'])}"
    msg = error["msg"].removeprefix("Value error, ")
    if kind.startswith(("value_error", "assertion_error")):
        return msg
    return f"{msg[:1].lower()}{msg[1:]}, got {_short(error['input'])}"


class BuildContext:
    """Collects issues while a config is resolved and validated piece by piece.

    Args:
        resolver: The reference resolver of this load.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.issues: list[ConfigIssue] = []
        #: Declared schemas: the physical location of each → its name.
        self.schema_origins: dict[Source, str] = {}
        self.schema_names: set[str] = set()
        #: Every operation name declared (also the ones with mistakes).
        self.operation_names: set[str] = set()
        #: False when ``operations:`` could not be read whole (a broken reference
        #: ...): then an interface key naming no known operation is not reported.
        self.operations_complete = True
        #: Operation name → the names of its declared parameters (also the ones
        #: with mistakes), or None when they could not be read: then the
        #: parameter names in bindings are not checked.
        self.operation_params: dict[str, frozenset[str] | None] = {}
        #: Operations that validated.
        self.operations: dict[str, OperationConfig] = {}
        #: Reference targets → where they are used in the merged config, and the
        #: file that holds the reference (see `used_as`).
        self._uses: dict[Source, list[tuple[ConfigPath, Path | None]]] = {}
        #: Circular references already reported (each cycle once).
        self._cycles: set[frozenset[Source]] = set()

    def used_as(self, target: Source, path: ConfigPath, holder: Source) -> None:
        """Record that a reference target is used at ``path`` of the merged config.

        Issues inside the target are then reported at their place in the target's
        file, with the merged-config location in the message.

        Args:
            target: The location the reference leads to.
            path: Where the target's value is used in the merged config.
            holder: Where the reference is written.
        """
        uses = self._uses.setdefault(target, [])
        if (path, holder.file) not in uses:
            uses.append((path, holder.file))

    def _locate(self, src: Source, path: ConfigPath) -> tuple[ConfigPath, str]:
        # The innermost reference target that holds ``src`` and is used at a prefix
        # of ``path`` gives the place in the file and the note on where it is used.
        for k in range(len(src.pointer), -1, -1):
            base = Source(src.file, src.pointer[:k])
            for used, holder in reversed(self._uses.get(base, ())):
                if path[: len(used)] != used:
                    continue
                physical = (*base.pointer, *path[len(used) :])
                if physical == path and holder == src.file:
                    return path, ""
                origin = "" if holder == src.file else f" from {_file_name(holder)}"
                return physical, f" (used as {format_path(used)} via $ref{origin})"
        return path, ""

    def locate(self, node: Node, path: ConfigPath) -> ConfigIssue:
        """Where a value is written, as an issue without a message of its own.

        Args:
            node: The value.
            path: Its logical path in the merged config.

        Returns:
            ``ConfigIssue(file, path in that file, note)``; the note (possibly empty)
            says where text reached through a ``$ref`` is used.
        """
        where, note = self._locate(node.src, path)
        return ConfigIssue(node.src.file, where, note)

    def issue(self, node: Node | Source | None, path: ConfigPath, message: str) -> None:
        """Record an issue.

        Args:
            node: The offending value (gives the file), if known.
            path: Logical path in the merged config; an issue inside a reference
                target is reported at its path in the target's file instead, with
                the merged-config location added to the message.
            message: What was expected.
        """
        src = node.src if isinstance(node, Node) else node
        if src is None:
            self.issues.append(ConfigIssue(None, path, message))
            return
        where, note = self._locate(src, path)
        self.issues.append(ConfigIssue(src.file, where, message + note))

    def ref_issue(self, node: Node | Source | None, path: ConfigPath, exc: RefError) -> None:
        """Record a reference that cannot be resolved; a cycle only once.

        Args:
            node: Where the reference is written.
            path: Logical path of the reference.
            exc: The error.
        """
        if exc.cycle is not None:
            if exc.cycle in self._cycles:
                return
            self._cycles.add(exc.cycle)
        self.issue(node, path, exc.message)

    def validate(self, model: type[M], data: Any, node: Node, path: ConfigPath) -> M | None:
        """Validate ``data`` with a pydantic model, recording each error as an issue.

        Args:
            model: The model class.
            data: The raw data.
            node: Where the data lives (for the file name).
            path: Its logical path.

        Returns:
            The model, or None when validation failed.
        """
        try:
            return model.model_validate(data, context=LOADER_CONTEXT)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = _as_written(data, tuple(p for p in error["loc"] if p != "[key]"))
                where = loc[:-1] if error["type"] in ("missing", "extra_forbidden") else loc
                message = _message(error, model)
                if "[key]" in error["loc"]:
                    message = f"bad key: {message}"
                self.issue(node, (*path, *where), message)
            return None

    def mapping(self, node: Node, path: ConfigPath, what: str) -> dict[Any, Any] | None:
        """Check that a node is a mapping.

        Args:
            node: The node.
            path: Its logical path.
            what: What it should be, for the message.

        Returns:
            The mapping, or None (issue recorded).
        """
        if isinstance(node.value, dict):
            return node.value
        self.issue(node, path, f"expected {what} (a mapping), got {_short(node.value)}")
        return None

    def deref(self, node: Node, path: ConfigPath) -> Node | None:
        """Resolve a single-object reference ``{$ref: "<pointer>"}``, if it is one.

        Args:
            node: An entry value.
            path: Its logical path.

        Returns:
            The target (or ``node`` when it is no reference), None on error.
        """
        value = node.value
        if not (isinstance(value, dict) and "$ref" in value):
            return node
        ref = value["$ref"]
        if isinstance(ref, list):
            return node  # a merge reference: the caller expands it
        if not isinstance(ref, str):
            self.issue(node, (*path, "$ref"), _BAD_REF)
            return None
        others = sorted(str(k) for k in value if k != "$ref")
        if others:
            self.issue(node, path, f"a {{$ref: ...}} entry must have no other keys, found {others}")
            return None
        try:
            target = self.resolver.resolve(ref, node.src)
        except RefError as exc:
            self.ref_issue(node, (*path, "$ref"), exc)
            return None
        self.used_as(target.src, path, node.src)
        return target

    def entries(self, node: Node, path: ConfigPath, what: str) -> list[tuple[str, Node]]:
        """The entries of a mapping, with merge references expanded in place.

        ``$ref`` inside the mapping must be a list of pointers to mappings whose
        entries are added under their own keys; the whole mapping may also be a
        single ``{$ref: ...}``. A key defined twice is an error.

        Args:
            node: The mapping node (None value means empty).
            path: Its logical path.
            what: What the mapping is, for messages.

        Returns:
            ``(key, value node)`` pairs in order.
        """
        return self.entries_checked(node, path, what)[0]

    def entries_checked(
        self, node: Node, path: ConfigPath, what: str
    ) -> tuple[list[tuple[str, Node]], bool]:
        """Like `entries`, and whether every entry could be read.

        Args:
            node: The mapping node (None value means empty).
            path: Its logical path.
            what: What the mapping is, for messages.

        Returns:
            The ``(key, value node)`` pairs, and False when an entry may be missing
            because of a recorded issue (a broken reference, a non-string key ...),
            so that checks against these keys would only report follow-on noise.
        """
        if node.value is None:
            return [], True
        before = len(self.issues)
        target = self.deref(node, path)
        if target is None or self.mapping(target, path, what) is None:
            return [], False
        out: list[tuple[str, Node]] = []
        seen: dict[str, Source] = {}
        twice = 0
        for key, child in self._expand(target, path, what):
            if key in seen:
                where = seen[key].describe()
                self.issue(child, (*path, key), f"{key!r} is defined twice (also at {where})")
                twice += 1
                continue
            seen[key] = child.src
            out.append((key, child))
        return out, len(self.issues) - before == twice

    def _expand(self, node: Node, path: ConfigPath, what: str) -> Iterable[tuple[str, Node]]:
        for key, value in node.value.items():
            if not isinstance(key, str):
                self.issue(node, path, f"keys must be strings, got {_short(key)}{key_hint(key)}")
            elif key != "$ref":
                yield key, Node(value, node.src.child(key))
            elif not isinstance(value, list):
                self.issue(node, (*path, "$ref"), _BAD_REF)
            else:
                yield from self._merge(node, value, path, what)

    def _merge(
        self, node: Node, refs: list[Any], path: ConfigPath, what: str
    ) -> Iterable[tuple[str, Node]]:
        for index, ref in enumerate(refs):
            holder = node.src.child("$ref").child(index)
            try:
                target = self.resolver.resolve(ref, node.src)
                with self.resolver.expanding(target.src, str(ref)):
                    if not isinstance(target.value, dict):
                        self.issue(
                            Node(ref, holder),
                            (*path, "$ref", index),
                            f"$ref {ref!r} must point to a mapping of {what}, "
                            f"got {_short(target.value)}",
                        )
                        continue
                    self.used_as(target.src, path, node.src)
                    yield from list(self._expand(target, path, what))
            except RefError as exc:
                self.ref_issue(Node(ref, holder), (*path, "$ref", index), exc)
