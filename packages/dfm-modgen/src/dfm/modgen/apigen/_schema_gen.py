"""``<pkg>.fed.schema``: pydantic models from the config's ``schemas:``.

All models live in one private module (``_models``) so schemas may refer to each
other in any direction, recursively too; ``schema/<module>.py`` re-exports them
under their dotted names.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel

from ..config import FederationConfig
from ._errors import GenerationError
from ._layout import HEADER, ModulePath, module_files, module_name, split_name
from ._source import (
    Imports,
    annotated_field,
    assignment,
    call,
    docstring,
    py_literal,
    py_string,
)
from ._types import TypeMapper

__all__ = ["SchemaPackage"]

_MODELS = "_models"
_BASEMODEL_ATTRS = frozenset(dir(BaseModel))


def _is_model(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (kind is None and "properties" in schema)


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", text) if part)


def _field_name(prop: str, taken: set[str]) -> str:
    name = prop
    if not (name.isidentifier() and not keyword.iskeyword(name)):
        name = re.sub(r"\W", "_", name)
        if not name or name[0].isdigit() or keyword.iskeyword(name):
            name = f"field_{name}"
    if name.startswith(("_", "model_")) or name in _BASEMODEL_ATTRS:
        name = f"{name.lstrip('_')}_"
    base, counter = name, 0
    while name in taken:
        counter += 1
        name = f"{base}_{counter}"
    taken.add(name)
    return name


class SchemaPackage:
    """Generates ``fed/schema`` and tells other modules how to import a schema.

    Args:
        config: The federation config.
    """

    def __init__(self, config: FederationConfig) -> None:
        self._config = config
        self._root = f"{config.code_package}.fed.schema"
        names = config.schemas
        counts = Counter(split_name(n)[1] for n in names)
        self._class_names: dict[str, str] = {}
        for name in names:
            module, cls = split_name(name)
            self._class_names[name] = cls if counts[cls] == 1 else "_".join((*module, cls))
        self._public: dict[ModulePath, list[str]] = {}
        for name in names:
            module, cls = split_name(name)
            self._public.setdefault(module, []).append(cls)
        self._files = module_files({**self._public, (_MODELS,): []}, where=self._root)

    def import_of(self, name: str) -> tuple[str, str]:
        """Where a declared schema's class is imported from.

        Args:
            name: The schema name (``geo.Point``).

        Returns:
            ``(module, class name)``.

        Raises:
            GenerationError: When no such schema is declared.
        """
        if name not in self._config.schemas:
            raise GenerationError(f"$ref to undeclared schema {name!r}")
        module, cls = split_name(name)
        return module_name(self._root, module), cls

    def files(self) -> dict[str, str]:
        """The generated files.

        Returns:
            Path relative to ``fed/schema`` → content; empty without schemas.
        """
        if not self._config.schemas:
            return {}
        out = {self._files[(_MODELS,)]: self._models_module()}
        for module, path in self._files.items():
            if module != (_MODELS,):
                out[path] = self._public_module(module)
        return out

    def _public_module(self, module: ModulePath) -> str:
        fed = self._config.code_package
        title = ".".join(module) if module else "(top level)"
        doc = docstring(f"Schemas {title} of federation {fed!r}.\n\n{HEADER}", 0)
        classes = self._public.get(module, [])
        if not classes:
            return doc + "\n"
        full = {split_name(n): n for n in self._config.schemas}
        parts = []
        for cls in classes:
            private = self._class_names[full[(module, cls)]]
            parts.append(cls if private == cls else f"{private} as {cls}")
        models = module_name(self._root, (_MODELS,))
        line = f"from {models} import {', '.join(parts)}"
        if len(line) > 88:
            line = f"from {models} import (\n" + "".join(f"    {p},\n" for p in parts) + ")"
        exported = ", ".join(py_string(c) for c in classes)
        return f"{doc}\n\n{line}\n\n" + assignment("__all__", f"[{exported}]", 0) + "\n"

    def _models_module(self) -> str:
        imports = Imports(self._class_names.values())
        imports.name("__future__", "annotations")
        writer = _ModelWriter(imports, set(self._class_names.values()), self._class_names)
        for name, schema in self._config.schemas.items():
            writer.define(self._class_names[name], schema, name)
        fed = self._config.code_package
        doc = docstring(f"Schema models of federation {fed!r}.\n\n{HEADER}", 0)
        parts = writer.classes + writer.aliases()
        if writer.class_names:
            # Annotations are strings (forward references): resolve them now that
            # every class and alias exists.
            parts.append("\n".join(f"{c}.model_rebuild()" for c in writer.class_names))
            # Values of these models arriving from other sites are built without an
            # allow-list entry: the classes are generated from the federation config.
            trust = imports.name("dfm.api", "trust_classes")
            parts.append(call("", trust, writer.class_names, "", 0))
        body = "\n\n\n".join(parts)
        return f"{doc}\n\n{imports.render()}\n\n\n{body}\n"


class _ModelWriter:
    def __init__(self, imports: Imports, taken: set[str], declared: dict[str, str]) -> None:
        self.imports = imports
        self.taken = taken
        self.declared = declared
        self.classes: list[str] = []
        self.class_names: list[str] = []
        self._aliases: dict[str, tuple[str, str, set[str]]] = {}
        self.mapper = TypeMapper(imports, self._schema_type, self._inline)
        self._deps: set[str] = set()

    def _schema_type(self, name: str) -> str:
        if name not in self.declared:
            raise GenerationError(f"$ref to undeclared schema {name!r}")
        self._deps.add(self.declared[name])
        return self.declared[name]

    def _inline(self, schema: dict[str, Any], hint: str) -> str:
        name, counter = hint or "Model", 0
        while name in self.taken:
            counter += 1
            name = f"{hint}{counter}"
        self.taken.add(name)
        self._class(name, schema, None)
        return name

    def define(self, cls: str, schema: dict[str, Any], dotted: str) -> None:
        if _is_model(schema):
            self._class(cls, schema, dotted)
            return
        self._deps = set()
        annotation = self.mapper.annotation(schema, cls)
        doc = schema.get("description")
        comment = f"#: {' '.join(doc.split())}\n" if isinstance(doc, str) and doc.strip() else ""
        self._aliases[cls] = (comment, annotation, set(self._deps))

    def _class(self, cls: str, schema: dict[str, Any], dotted: str | None) -> None:
        base = self.imports.name("pydantic", "BaseModel")
        required = set(schema.get("required") or [])
        props = schema.get("properties") or {}
        summary = str(schema.get("description") or f"Schema {dotted or cls}").strip()
        if not summary.endswith((".", "!", "?")):
            summary += "."
        lines = [f"class {cls}({base}):"]
        attrs: list[str] = []
        fields: list[str] = []
        taken: set[str] = set()
        aliased = False
        for prop, sub in props.items():
            name = _field_name(str(prop), taken)
            members = self.mapper.members(sub, f"{cls}{_camel(str(prop))}")
            optional = prop not in required
            default: str | None = None
            if optional:
                if "None" not in members:
                    members = [*members, "None"]
                value = sub.get("default") if isinstance(sub, dict) else None
                default = py_literal(value)
            if name != prop:
                aliased = True
                field = self.imports.name("pydantic", "Field")
                args = f"alias={py_string(str(prop))}"
                default = f"{field}({default}, {args})" if default else f"{field}({args})"
            fields.append(annotated_field(name, members, default, 4))
            if isinstance(sub, dict) and isinstance(sub.get("description"), str):
                attrs.append(f"    {name}: {sub['description']}")
        text = summary + ("\n\nAttributes:\n" + "\n".join(attrs) if attrs else "")
        lines.append(docstring(text, 4))
        config = self._config_line(schema, aliased, bool(props))
        if config:
            lines.extend(["", config])
        if fields:
            lines.extend(["", *fields])
        self.classes.append("\n".join(lines))
        self.class_names.append(cls)

    def _config_line(self, schema: dict[str, Any], aliased: bool, has_props: bool) -> str:
        options: list[str] = []
        extra = schema.get("additionalProperties")
        if extra is False:
            options.append('extra="forbid"')
        elif extra is not None or not has_props:
            options.append('extra="allow"')
        if aliased:
            options.append("populate_by_name=True")
        if not options:
            return ""
        config = self.imports.name("pydantic", "ConfigDict")
        return assignment("model_config", f"{config}({', '.join(options)})", 4)

    def aliases(self) -> list[str]:
        done: list[str] = []
        pending = dict(self._aliases)
        while pending:
            ready = [n for n, (_, _, deps) in pending.items() if not (deps & pending.keys()) - {n}]
            if not ready:
                raise GenerationError(
                    f"schemas {sorted(pending)} refer to each other without an object in "
                    "between; such type aliases cannot be generated"
                )
            for name in ready:
                comment, annotation, deps = pending.pop(name)
                if name in deps:
                    raise GenerationError(f"schema {name!r} refers to itself directly")
                alias = self.imports.name("typing", "TypeAlias")
                done.append(comment + assignment(f"{name}: {alias}", annotation, 0))
        return done
