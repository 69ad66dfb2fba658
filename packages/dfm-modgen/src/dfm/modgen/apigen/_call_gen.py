"""The ``call_<op>`` / ``discover_<op>`` methods of generated sites and providers.

``discover_<op>`` builds the same keyword arguments and runs the adapter's field
advisors on them (``dfm.runtime.build_advice``); it is always ``async``.

How a call method builds the adapter's keyword arguments from the binding's
``args``:

* ``from-operation``: exactly the keywords the caller passed (the compiler passes
  only the parameters the user set, so adapter defaults apply to the rest);
* ``from-param: p``: ``kwargs["p"]`` when the caller passed ``p``, else nothing;
* ``const``, ``from-secrets``, ``from-site``, ``from-provider``: the configured
  value, computed on each call; with ``expose-as`` the caller's value of the
  exposed parameter wins whenever it is given (not None), and the configured
  value is then not computed at all (no secret lookup).
"""

from __future__ import annotations

from ..config import (
    AdapterBinding,
    ArgSource,
    ConstArg,
    FromParamArg,
    FromProviderArg,
    FromSecretsArg,
    FromSiteArg,
)
from ._errors import GenerationError
from ._source import LINE_LENGTH, call, docstring, py_literal, py_string

__all__ = ["call_method", "discover_method", "method_suffix"]


def method_suffix(operation: str) -> str:
    """The suffix of ``call_<suffix>`` / ``discover_<suffix>`` for an operation.

    Args:
        operation: The operation name (``users.GreetMe``).

    Returns:
        The name with dots replaced by underscores (``users_GreetMe``).
    """
    return operation.replace(".", "_")


def _signature(is_async: bool, name: str) -> str:
    kw = "async def" if is_async else "def"
    line = f"    {kw} {name}(self, **kwargs: Any) -> Any:"
    if len(line) <= LINE_LENGTH:
        return line
    return f"    {kw} {name}(\n        self, **kwargs: Any\n    ) -> Any:"


def _assign(target: str, value: str, indent: int) -> str:
    # A subscript target: ruff parenthesises a long right-hand side.
    pad = " " * indent
    line = f"{pad}{target} = {value}"
    if len(line) <= LINE_LENGTH or "\n" in value:
        return line
    return f"{pad}{target} = (\n{pad}    {value}\n{pad})"


def _configured_value(source: ArgSource, site: str, target: str, indent: int) -> str:
    if isinstance(source, ConstArg):
        return py_literal(source.const, indent, len(target) + 3)
    if isinstance(source, FromSecretsArg):
        return f"{site}.secret_for_key({py_string(source.from_secrets)})"
    if isinstance(source, FromSiteArg):
        return f"getattr({site}, {py_string(source.from_site)})"
    if isinstance(source, FromProviderArg):
        owner = f"getattr({site}, {py_string(source.provider)})"
        return f"getattr({owner}, {py_string(source.attribute)})"
    raise GenerationError(f"unknown argument source {source!r}")  # pragma: no cover


def _arg_lines(arg: str, source: ArgSource, site: str) -> list[str]:
    target = f"packed[{py_string(arg)}]"
    if isinstance(source, FromParamArg):
        param = py_string(source.from_param)
        return [f"        if {param} in kwargs:", _assign(target, f"kwargs[{param}]", 12)]
    expose = source.expose_as
    if expose is None:
        return [_assign(target, _configured_value(source, site, target, 8), 8)]
    override = py_string(expose.param)
    return [
        _assign("override", f"kwargs.get({override})", 8),
        "        if override is not None:",
        f"            {target} = override",
        "        else:",
        _assign(target, _configured_value(source, site, target, 12), 12),
    ]


def call_method(key: str, op: str, binding: AdapterBinding, in_provider: bool) -> list[str]:
    """The lines of ``call_<op>``.

    Args:
        key: The interface entry's key in the module tables (``[prov:]op``).
        op: The operation name.
        binding: The adapter binding.
        in_provider: Whether the method belongs to a provider class (the site is
            then ``self.site``).

    Returns:
        Source lines, indented for a class body.
    """
    site = "self.site" if in_provider else "self"
    suffix = method_suffix(op)
    lines = [
        _signature(binding.is_async, f"call_{suffix}"),
        docstring(f"Run {op} with {binding.adapter.path}.", 8),
        *_packed_lines(binding, site),
    ]
    lines.append(call("with ", "_span", [site, py_string(key)], ":", 8))
    adapter = f"self.adapter_{suffix}"
    if binding.is_async:
        lines.append(call("return await ", "_call_async", [adapter, "packed"], "", 12))
    else:
        lines.append(call("return ", "_call_sync", [adapter, py_string(key), "packed"], "", 12))
    return lines


def _packed_lines(binding: AdapterBinding, site: str) -> list[str]:
    """The lines building ``packed``, the adapter's keyword arguments."""
    if binding.args == "from-operation":
        return ["        packed: dict[str, Any] = dict(kwargs)"]
    lines = ["        packed: dict[str, Any] = {}"]
    for arg, source in binding.args.items():
        lines.extend(_arg_lines(arg, source, site))
    return lines


def discover_method(op: str, binding: AdapterBinding, in_provider: bool, builder: str) -> list[str]:
    """The lines of ``discover_<op>``: always ``async``, whatever ``is-async`` says.

    It prepares the adapter's arguments exactly as ``call_<op>`` does (``Advise()``
    markers pass through like any value) and returns the advice of the adapter's field
    advisors. Being always a coroutine, the site net awaits it for sync adapters too.

    Args:
        op: The operation name.
        binding: The adapter binding.
        in_provider: Whether the method belongs to a provider class.
        builder: The local name of ``dfm.runtime.build_advice``.

    Returns:
        Source lines, indented for a class body.
    """
    site = "self.site" if in_provider else "self"
    suffix = method_suffix(op)
    return [
        _signature(True, f"discover_{suffix}"),
        docstring(f"Advise values for the parameters of {op}.", 8),
        *_packed_lines(binding, site),
        call("return await ", builder, [f"self.adapter_{suffix}", "**packed"], "", 8),
    ]
