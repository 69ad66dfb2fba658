"""``<pkg>.fed.api`` (operation classes) and ``<pkg>.fed.site`` (site-pinned classes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import (
    AdapterBinding,
    ExposeAs,
    FederationConfig,
    OperationConfig,
    ParameterSpec,
    site_identifier,
)
from ._errors import GenerationError
from ._layout import HEADER, ModulePath, module_files, module_name, split_name
from ._param_schemas import exposed_schema, parameter_schema
from ._schema_gen import SchemaPackage
from ._source import Imports, annotated_field, docstring, literal_field, py_literal, py_string
from ._types import TypeMapper, union_members

__all__ = ["ApiPackage"]

#: Names the generated modules import; an operation class may not take them.
RESERVED_CLASS_NAMES = frozenset(
    {"Any", "ClassVar", "Literal", "Advise", "NodeParam", "PlaceParam", "Operation", "TypeAlias"}
)
_IGNORE = "# type: ignore[assignment]"


def _describe(spec: ParameterSpec | ExposeAs, required: bool, default: str | None) -> str:
    text = (spec.description or "").strip()
    if text and not text.endswith((".", "!", "?")):
        text += "."
    status = "Required." if required else f"Optional (default {default or 'None'})."
    return f"{text} {status}".strip()


def _schemas_field(schemas: dict[str, Any], imports: Imports) -> str:
    # The parameters' JSON Schemas, which the compiler collects for value checks.
    classvar = imports.name("typing", "ClassVar")
    any_ = imports.name("typing", "Any")
    target = f"    dfm_param_schemas: {classvar}[dict[str, {any_}]] = "
    return target + py_literal(schemas, 4, len(target) - 4)


def _classes(grouped: Mapping[ModulePath, list[str]]) -> dict[ModulePath, list[str]]:
    return {module: [split_name(op)[1] for op in ops] for module, ops in grouped.items()}


class ApiPackage:
    """Generates the operation classes and their site- and provider-pinned subclasses.

    Args:
        config: The federation config.
        schemas: The schema package (to import schema classes from).
    """

    def __init__(self, config: FederationConfig, schemas: SchemaPackage) -> None:
        self._config = config
        self._schemas = schemas
        self._pkg = config.code_package
        for name in config.operations:
            cls = split_name(name)[1]
            if cls in RESERVED_CLASS_NAMES:
                raise GenerationError(
                    f"operation {name!r}: the class name {cls!r} is reserved in generated code"
                )

    def files(self) -> dict[str, str]:
        """The generated files.

        Returns:
            Path relative to ``fed/`` → content.
        """
        out: dict[str, str] = {}
        root = f"{self._pkg}.fed.api"
        grouped = self._group(self._config.operations)
        for module, path in module_files(_classes(grouped), where=root).items():
            out[f"api/{path}"] = self._api_module(module, grouped.get(module, []))
        out["site/__init__.py"] = self._doc_only(
            f"Site-pinned operations of federation {self._pkg!r}."
        )
        for key, site in self._config.sites.items():
            sid = site_identifier(key)
            base = f"{self._pkg}.fed.site.{sid}"
            defined = self._group(site.interface)
            providers: dict[ModulePath, str] = {(p,): p for p in site.providers}
            shared = sorted({m[0] for m in defined if m} & set(site.providers))
            if shared:
                raise GenerationError(
                    f"{base}: provider {shared[0]!r} has the name of an operation module; "
                    "rename the provider"
                )
            for prov, provider in site.providers.items():
                for mod, ops in self._group(provider.interface).items():
                    defined.setdefault((prov, *mod), []).extend(ops)
            for module, path in module_files(_classes(defined), providers, where=base).items():
                owner = providers.get(module[:1])
                rel = module[1:] if owner else module
                interface = site.providers[owner].interface if owner else site.interface
                ops = [op for op in defined.get(module, []) if op in interface]
                out[f"site/{sid}/{path}"] = self._site_module(
                    sid, owner, module, rel, ops, interface
                )
        return out

    @staticmethod
    def _group(names: Mapping[str, object]) -> dict[ModulePath, list[str]]:
        grouped: dict[ModulePath, list[str]] = {}
        for name in names:
            grouped.setdefault(split_name(name)[0], []).append(name)
        return grouped

    def _doc_only(self, summary: str) -> str:
        return docstring(f"{summary}\n\n{HEADER}", 0) + "\n"

    def _mapper(self, imports: Imports) -> TypeMapper:
        def schema_type(name: str) -> str:
            return imports.name(*self._schemas.import_of(name))

        return TypeMapper(imports, schema_type)

    def _api_module(self, module: ModulePath, ops: list[str]) -> str:
        title = ".".join(module) or "(top level)"
        summary = f"Operations {title} of federation {self._pkg!r}."
        if not ops:
            return self._doc_only(summary)
        imports = Imports(split_name(op)[1] for op in ops)
        classes = [self._api_class(op, self._config.operations[op], imports) for op in ops]
        return self._module(summary, imports, classes)

    def _module(self, summary: str, imports: Imports, classes: list[str]) -> str:
        doc = docstring(f"{summary}\n\n{HEADER}", 0)
        body = "\n\n\n".join(classes)
        return f"{doc}\n\n{imports.render()}\n\n\n{body}\n"

    def _api_class(self, name: str, op: OperationConfig, imports: Imports) -> str:
        module, cls = split_name(name)
        path = f"{module_name(f'{self._pkg}.fed.api', module)}.{cls}"
        mapper = self._mapper(imports)
        base = imports.name("dfm.api", "Operation")
        literal = imports.name("typing", "Literal")
        fields: list[str] = []
        attrs: list[str] = []
        schemas: dict[str, Any] = {}
        for pname, spec in op.parameters.items():
            required = op.is_required(pname)
            schemas[pname] = parameter_schema(self._config, spec, required)
            hint = f"{cls}{pname.title().replace('_', '')}"
            literal_types = (
                mapper.members(spec.json_schema(), hint) if spec.accepts_literal_input else []
            )
            members = union_members(spec, literal_types, imports)
            default = None
            if not required:
                members = [*members, "None"] if "None" not in members else members
                default = py_literal(spec.default if spec.has_default else None, 4, len(pname) + 2)
            fields.append(annotated_field(pname, members, default, 4))
            attrs.append(f"    {pname}: {_describe(spec, required, default)}")
        summary = (op.description or f"Operation {name}.").strip()
        if not summary.endswith((".", "!", "?")):
            summary += "."
        text = summary + ("\n\nAttributes:\n" + "\n".join(attrs) if attrs else "")
        text += f"\n\nReturns:\n    {op.returns}"
        lines = [f"class {cls}({base}):", docstring(text, 4), ""]
        lines.append(literal_field("dfm_class_name", literal, path, 4))
        lines.append(f"    __api_name__ = {py_string(name)}")
        if schemas:
            lines.append(_schemas_field(schemas, imports))
        if fields:
            lines.extend(["", *fields])
        return "\n".join(lines)

    def _site_module(
        self,
        sid: str,
        prov: str | None,
        module: ModulePath,
        rel: ModulePath,
        ops: list[str],
        interface: Mapping[str, AdapterBinding],
    ) -> str:
        where = f"site {sid!r}" + (f", provider {prov!r}" if prov else "")
        title = ".".join(rel) or "(top level)"
        summary = f"Operations {title} pinned to {where} of federation {self._pkg!r}."
        if not ops:
            return self._doc_only(summary)
        imports = Imports(split_name(op)[1] for op in ops)
        api_module = module_name(f"{self._pkg}.fed.api", rel)
        parent, _, leaf = api_module.rpartition(".")
        api_alias = imports.name(parent, leaf)
        base_path = module_name(f"{self._pkg}.fed.site.{sid}", module)
        classes = [
            self._site_class(
                op, interface[op], f"{base_path}.{split_name(op)[1]}", sid, prov, api_alias, imports
            )
            for op in ops
        ]
        return self._module(summary, imports, classes)

    def _site_class(
        self,
        name: str,
        binding: AdapterBinding,
        path: str,
        sid: str,
        prov: str | None,
        api_alias: str,
        imports: Imports,
    ) -> str:
        cls = split_name(name)[1]
        literal = imports.name("typing", "Literal")
        mapper = self._mapper(imports)
        fields: list[str] = []
        attrs: list[str] = []
        exposed: dict[str, Any] = {}
        for _arg, expose in binding.exposed():
            exposed[expose.param] = exposed_schema(expose)
            literal_types: list[str] = []
            if expose.accepts_literal_input:
                literal_types = mapper.members({"type": list(expose.type)}, f"{cls}{expose.param}")
            members = [*union_members(expose, literal_types, imports), "None"]
            fields.append(annotated_field(expose.param, list(dict.fromkeys(members)), "None", 4))
            attrs.append(f"    {expose.param}: {_describe(expose, False, None)}")
        summary = (
            binding.description or f"{name} on {sid}" + (f" ({prov})" if prov else "")
        ).strip()
        if not summary.endswith((".", "!", "?")):
            summary += "."
        text = summary + ("\n\nAttributes:\n" + "\n".join(attrs) if attrs else "")
        lines = [f"class {cls}({api_alias}.{cls}):", docstring(text, 4), ""]
        lines.append(literal_field("dfm_class_name", literal, path, 4, _IGNORE))
        lines.append(literal_field("site", literal, sid, 4))
        if prov is None:
            lines.append("    provider: None = None")
        else:
            lines.append(literal_field("provider", literal, prov, 4))
        if exposed:
            op = self._config.operations[name]
            schemas = {
                p: parameter_schema(self._config, spec, op.is_required(p))
                for p, spec in op.parameters.items()
            }
            lines.append(_schemas_field({**schemas, **exposed}, imports))
        if fields:
            lines.extend(["", *fields])
        return "\n".join(lines)
