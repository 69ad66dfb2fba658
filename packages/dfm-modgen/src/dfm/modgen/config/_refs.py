"""``$ref`` resolution: JSON pointers into the same document or other files.

A reference is ``"<file>#/<pointer>"`` or ``"#/<pointer>"``. Pointer tokens are
separated by ``/`` and may contain dots (``#/operations/users.GreetMe``); ``~1``
stands for ``/`` and ``~0`` for ``~``. A relative file is looked up next to the
file that holds the reference first, then in the process working directory (older
configs were written relative to a repository root). Remote references are not
fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._documents import DocumentError, read_document

__all__ = ["Node", "RefError", "Resolver", "Source", "format_pointer", "split_ref"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

Pointer = tuple[str | int, ...]


class RefError(Exception):
    """A reference cannot be resolved.

    Attributes:
        message: What went wrong, naming the pointer and the file.
        cycle: For a circular reference, the locations that form the cycle (the
            same set whichever of them the expansion started from); else None.
    """

    def __init__(self, message: str, cycle: frozenset[Source] | None = None) -> None:
        """Create the error.

        Args:
            message: What went wrong.
            cycle: The locations of a circular reference, if it is one.
        """
        super().__init__(message)
        self.message = message
        self.cycle = cycle


class _NotFound(RefError):
    """The pointer leads nowhere (as opposed to a broken file or a cycle)."""


@dataclass(frozen=True)
class Source:
    """Where a raw value physically lives: a file (None: the in-memory root) and a pointer.

    Attributes:
        file: The document's file, or None for a config given as a string/dict.
        pointer: Keys and indices from that document's root.
    """

    file: Path | None
    pointer: Pointer

    def child(self, key: str | int) -> Source:
        """The source of a child value.

        Args:
            key: Mapping key or list index.

        Returns:
            The child's source.
        """
        return Source(self.file, (*self.pointer, key))

    def describe(self) -> str:
        """Render as ``file#/pointer``."""
        return f"{self.file or '<config>'}{format_pointer(self.pointer)}"


@dataclass(frozen=True)
class Node:
    """A raw value and where it lives.

    Attributes:
        value: The parsed YAML/JSON value.
        src: Its location.
    """

    value: Any
    src: Source


def format_pointer(tokens: Pointer) -> str:
    """Render pointer tokens as ``#/a/b`` (escaping ``~`` and ``/``).

    Args:
        tokens: The tokens.

    Returns:
        The fragment, ``#`` for the document root.
    """
    parts = [str(t).replace("~", "~0").replace("/", "~1") for t in tokens]
    return "#" + "".join(f"/{p}" for p in parts)


def split_ref(ref: str) -> tuple[str, tuple[str, ...]]:
    """Split a reference into its file part and its unescaped pointer tokens.

    Args:
        ref: ``"<file>#/<pointer>"``, ``"#/<pointer>"`` or ``"<file>"``.

    Returns:
        ``(file, tokens)``; ``file`` is empty for a local reference.

    Raises:
        RefError: On an empty reference, a remote URL or a malformed fragment.
    """
    if not ref:
        raise RefError("empty $ref")
    if _URL.match(ref):
        raise RefError(
            f"$ref {ref!r}: remote references are not supported; download the file "
            "and refer to it by a path"
        )
    file_part, _, fragment = ref.partition("#")
    if not fragment:
        return file_part, ()
    if not fragment.startswith("/"):
        raise RefError(f"$ref {ref!r}: the part after '#' must be a JSON pointer like '#/a/b'")
    tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in fragment[1:].split("/"))
    return file_part, tokens


def _circular(ref: str, stack: list[Source], again: Source) -> RefError:
    # The cycle is the part of the stack from the first visit of ``again`` on.
    loop = stack[stack.index(again) :]
    chain = " -> ".join(s.describe() for s in (*loop, again))
    return RefError(f"$ref {ref!r} is circular: {chain}", cycle=frozenset(loop))


def _is_pure_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$ref"), str)


class Resolver:
    """Resolves references and guards against cycles.

    Args:
        root: The parsed root document.
        root_file: Its file, or None when it was given as a string/dict.
        base_dir: Directory for relative file references of the in-memory root.
        cwd: Fallback directory for relative file references.
    """

    def __init__(self, root: Any, root_file: Path | None, base_dir: Path, cwd: Path) -> None:
        self._docs: dict[Path | None, Any] = {root_file: root}
        self._root_file = root_file
        self._base_dir = base_dir
        self._cwd = cwd
        self._stack: list[Source] = []

    def root(self) -> Node:
        """The root document as a node."""
        return Node(self._docs[self._root_file], Source(self._root_file, ()))

    def _locate(self, name: str, holder: Path | None) -> Path:
        path = Path(name)
        if path.is_absolute():
            candidates = [path]
        else:
            base = holder.parent if holder is not None else self._base_dir
            candidates = [base / path, self._cwd / path]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        looked = " or ".join(str(c) for c in dict.fromkeys(candidates))
        raise RefError(f"$ref file {name!r} not found (looked for {looked})")

    def _document(self, file: Path | None) -> Any:
        if file not in self._docs:
            assert file is not None  # the in-memory root is always cached
            try:
                self._docs[file] = read_document(file)
            except DocumentError as exc:
                raise RefError(f"cannot load $ref file: {exc.message}") from None
        return self._docs[file]

    @contextmanager
    def expanding(self, src: Source, ref: str) -> Iterator[None]:
        """Mark ``src`` as being expanded; entering it again is a cycle.

        Args:
            src: The target being expanded.
            ref: The reference text, for the error message.

        Yields:
            Nothing.

        Raises:
            RefError: When ``src`` is already being expanded.
        """
        if src in self._stack:
            raise _circular(ref, self._stack, src)
        self._stack.append(src)
        try:
            yield
        finally:
            self._stack.pop()

    def resolve(self, ref: Any, holder: Source) -> Node:
        """Resolve one reference found at ``holder``.

        Pure single-object references (``{$ref: ...}`` without other keys) met on
        the way and at the target are followed,
        and keys are also looked up in the mappings of a dictionary-merge ``$ref``.

        Args:
            ref: The reference text.
            holder: Where the reference was written.

        Returns:
            The target node.

        Raises:
            RefError: When it cannot be resolved; the message names the pointer
                and the file.
        """
        if not isinstance(ref, str):
            raise RefError(f"$ref must be a string like 'file.yaml#/a/b', got {ref!r}")
        name, tokens = split_ref(ref)
        file = self._locate(name, holder.file) if name else holder.file
        doc = Node(self._document(file), Source(file, ()))
        try:
            return self.follow(self._walk(doc, tokens, ref), ref)
        except _NotFound as exc:
            raise RefError(f"cannot resolve $ref {ref!r}: {exc.message}") from None

    def follow(self, node: Node, ref: str) -> Node:
        """Follow pure single-object references until a value that is not one.

        Args:
            node: The start.
            ref: The original reference, for messages.

        Returns:
            The final node (``node`` itself when it is not a reference).

        Raises:
            RefError: On a cycle or an unresolvable link.
        """
        seen: list[Source] = []
        while _is_pure_ref(node.value):
            if node.src in seen:
                raise _circular(ref, seen, node.src)
            seen.append(node.src)
            inner = node.value["$ref"]
            name, tokens = split_ref(inner)
            file = self._locate(name, node.src.file) if name else node.src.file
            doc = Node(self._document(file), Source(file, ()))
            try:
                node = self._walk(doc, tokens, inner)
            except _NotFound as exc:
                raise RefError(f"cannot resolve $ref {inner!r}: {exc.message}") from None
        return node

    def _walk(self, node: Node, tokens: tuple[str, ...], ref: str) -> Node:
        for token in tokens:
            node = self.follow(node, ref)
            value = node.value
            where = f"{format_pointer(node.src.pointer)} in {node.src.file or '<config>'}"
            if isinstance(value, dict):
                if token in value:
                    node = Node(value[token], node.src.child(token))
                    continue
                found = self._find_in_merge(node, token, ref)
                if found is None:
                    raise _NotFound(f"there is no key {token!r} at {where}")
                node = found
            elif isinstance(value, list):
                if not token.isdigit() or int(token) >= len(value):
                    raise _NotFound(f"there is no item {token!r} in the list at {where}")
                node = Node(value[int(token)], node.src.child(int(token)))
            else:
                raise _NotFound(f"the value at {where} is a {type(value).__name__}, not a mapping")
        return node

    def _find_in_merge(self, node: Node, token: str, ref: str) -> Node | None:
        refs = node.value.get("$ref")
        if not isinstance(refs, list):
            return None
        with self.expanding(node.src, ref):
            for index, item in enumerate(refs):
                target = self.resolve(item, node.src.child("$ref").child(index))
                try:
                    return self._walk(target, (token,), ref)
                except _NotFound:
                    continue
        return None
