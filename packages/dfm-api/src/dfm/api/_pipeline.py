"""Pipeline: the root block, and its persistence."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from pydantic import ConfigDict

from . import _build
from ._polymorphic import allow_module_prefix
from ._statement import Block
from ._visitor import ApiVisitor


class Pipeline(Block):
    """A pipeline: statements built inside ``with Pipeline() as p:``.

    It round-trips through JSON (``model_dump_json`` / ``model_validate_json``). Loading
    JSON is inert: it never unpickles and never imports a module outside the allow-list
    (see :class:`EncodedLiteral` and :func:`allow_module_prefix`).

    Example:
        >>> with Pipeline(name="hello") as p:
        ...     Yield(value=GreetMe(name=PlaceParam(place="name")))  # doctest: +SKIP

    Attributes:
        api_version: The federation API version; the session fills it when empty.
        mode: ``"execute"`` runs the pipeline; ``"discovery"`` asks sites for advice.
        name: A name shown in logs and generated code.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    api_version: str = ""
    mode: Literal["execute", "discovery"] = "execute"
    name: str | None = None

    def __enter__(self) -> Self:
        _build.open_pipeline(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _build.close_pipeline(self)

    def accept(self, visitor: ApiVisitor) -> None:
        """Dispatch to ``visitor.visit_pipeline``."""
        visitor.visit_pipeline(self)

    def save_to_file(self, file: str | os.PathLike[str], **fsspec_kwargs: Any) -> None:
        """Write the pipeline as JSON; ``Pipeline.save_to_file(p, file)`` works too.

        A URL is written with fsspec when it is installed; parent folders are created.
        """
        text = self.model_dump_json(indent=4)
        if _is_url(file):
            import fsspec  # type: ignore[import-not-found,import-untyped,unused-ignore]

            with fsspec.open(str(file), "w", **fsspec_kwargs) as f:
                f.write(text)
            return
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    @classmethod
    def load_from_file(
        cls, file: str | os.PathLike[str], allow: tuple[str, ...] = (), **fsspec_kwargs: Any
    ) -> Pipeline:
        """Read a pipeline saved with :meth:`save_to_file`.

        Loading is inert, as for ``Pipeline.model_validate_json``: nothing is unpickled
        and no module outside the allow-list is imported; pickled literals (and model
        literals of classes not trusted here) stay :class:`EncodedLiteral` for the site
        to decode under its own policy.

        Args:
            file: A path, or a URL when fsspec is installed.
            allow: Module prefixes whose classes the JSON may name, e.g.
                ``federation_prefixes("myfed")`` (a federation's generated packages);
                see :func:`allow_module_prefix`. Classes already imported need none.
            **fsspec_kwargs: Passed to ``fsspec.open`` for URLs.

        Raises:
            FileNotFoundError: The file does not exist.
        """
        if allow:
            allow_module_prefix(*allow)
        if _is_url(file):
            import fsspec  # type: ignore[import-not-found,import-untyped,unused-ignore]

            try:
                with fsspec.open(str(file), "r", **fsspec_kwargs) as f:
                    text = f.read()
            except FileNotFoundError as e:
                raise FileNotFoundError(f"Pipeline file not found: {file}") from e
        else:
            path = Path(file)
            if not path.is_file():
                raise FileNotFoundError(f"Pipeline file not found: {path}")
            text = path.read_text(encoding="utf-8")
        return cls.model_validate_json(text)


def _is_url(file: str | os.PathLike[str]) -> bool:
    return isinstance(file, str) and "://" in file and not file.startswith("file://")
