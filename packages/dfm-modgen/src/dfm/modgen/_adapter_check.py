"""``dfm check``: import every adapter and match it against its binding.

For each binding of each site and provider: the adapter's module imports, it defines
the class, the class can be built from the binding's constructor ``args`` (plus the
``site``/``provider`` the runtime passes), ``body`` is a coroutine exactly when the
binding says ``is-async``, and ``body()`` accepts every argument the binding passes
and requires none the binding may leave out (an optional operation parameter is only
passed when the pipeline sets it). The classes a site names besides adapters (its
``impl``, its providers' ``impl`` and its ``secrets_vault``) must import too, and a
vault must take its ``args``: a site whose vault cannot be created fails every job.
Every mismatch is reported, with the file and path where it is written.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import (
    OPERATION_KEY_PREFIX,
    AdapterBinding,
    ConfigIssue,
    ConfigPath,
    FederationConfig,
    FromParamArg,
)

__all__ = ["check_adapters"]

_ALWAYS, _SOMETIMES = "always", "sometimes"
# What the runtime passes to an adapter's constructor besides the configured args.
_RUNTIME_CTOR_ARGS = ("site", "provider")


@contextmanager
def _on_sys_path(folders: Sequence[str | Path]) -> Iterator[None]:
    added = [str(Path(f).resolve()) for f in folders]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for folder in added:
            if folder in sys.path:
                sys.path.remove(folder)


def _bindings(config: FederationConfig) -> Iterator[tuple[ConfigPath, str, AdapterBinding]]:
    for key, site in config.sites.items():
        for op, binding in site.interface.items():
            yield ("sites", key, "interface", OPERATION_KEY_PREFIX + op), op, binding
        for name, provider in site.providers.items():
            for op, binding in provider.interface.items():
                path = ("sites", key, "providers", name, "interface", OPERATION_KEY_PREFIX + op)
                yield path, op, binding


def _passed(config: FederationConfig, op: str, binding: AdapterBinding) -> dict[str, str]:
    """Adapter argument → whether the call method always passes it, or only sometimes."""
    operation = config.operations[op]
    if binding.args == "from-operation":
        return {
            name: _ALWAYS if operation.is_required(name) else _SOMETIMES
            for name in operation.parameters
        }
    passed: dict[str, str] = {}
    for arg, source in binding.args.items():
        if isinstance(source, FromParamArg) and not operation.is_required(source.from_param):
            passed[arg] = _SOMETIMES
        else:
            passed[arg] = _ALWAYS
    return passed


def _how(binding: AdapterBinding, arg: str) -> str:
    if binding.args == "from-operation":
        return "the binding passes (args: from-operation)"
    source = binding.args[arg] if isinstance(binding.args, dict) else None
    if isinstance(source, FromParamArg):
        return f"the binding passes (args.{arg}: from-param {source.from_param})"
    return f"the binding passes (args.{arg})"


def _load_class(path: str) -> tuple[Any, str | None]:
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return None, f"cannot import module {module_name!r} of adapter {path!r}: {last}"
    found = getattr(module, name, None)
    if found is None:
        return None, f"module {module_name!r} has no class {name!r}"
    if not isinstance(found, type):
        return None, f"{path!r} is not a class but a {type(found).__name__}"
    return found, None


def _signature(func: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or C extension: nothing to check


def _check_call(
    sig: inspect.Signature,
    passed: dict[str, str],
    what: str,
    how: Callable[[str], str],
    never: str = "the binding never passes",
) -> list[str]:
    params = list(sig.parameters.values())
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    problems: list[str] = []
    for arg in passed:
        if arg not in named and not takes_any:
            problems.append(f"{what} does not accept {arg!r}, which {how(arg)}")
    for p in params:
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind is p.POSITIONAL_ONLY:
            problems.append(f"{what} requires the positional-only {p.name!r}: DFM passes keywords")
        elif p.name not in passed:
            problems.append(f"{what} requires {p.name!r}, which {never}")
        elif passed[p.name] == _SOMETIMES:
            problems.append(
                f"{what} requires {p.name!r}, which {how(p.name)} only when the pipeline sets "
                "it (the parameter is optional): give it a default"
            )
    return problems


def _check_binding(config: FederationConfig, op: str, binding: AdapterBinding) -> list[str]:
    path = binding.adapter.path
    cls, problem = _load_class(path)
    if problem is not None:
        return [problem]
    problems: list[str] = []
    ctor = _signature(cls)
    if ctor is not None:
        given = {name: _ALWAYS for name in binding.adapter.args}
        offered = {name: _ALWAYS for name in _RUNTIME_CTOR_ARGS if name in ctor.parameters}
        problems += _check_call(
            ctor,
            {**given, **offered},
            f"{path}()",
            lambda a: f"adapter.args gives ({a})",
            never="adapter.args does not give (nor does the runtime: it gives only site and "
            "provider)",
        )
    body = inspect.getattr_static(cls, "body", None)
    if body is None or not callable(getattr(cls, "body", None)):
        return [*problems, f"{path} has no body() method"]
    func = body.__func__ if isinstance(body, (staticmethod, classmethod)) else body
    is_coroutine = inspect.iscoroutinefunction(func)
    if binding.is_async and not is_coroutine:
        problems.append(
            f"{path}.body is a plain function but the binding says is-async: true (the "
            "default): make it 'async def' or set is-async: false"
        )
    elif not binding.is_async and is_coroutine:
        problems.append(
            f"{path}.body is a coroutine ('async def') but the binding says is-async: false"
        )
    sig = _signature(cls.body)
    if sig is not None:
        if not isinstance(body, (staticmethod, classmethod)):
            # Unbound: drop ``self``, which the bound call fills.
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
        passed = _passed(config, op, binding)
        problems += _check_call(sig, passed, f"{path}.body()", lambda a: _how(binding, a))
    return problems


def _where(origin: ConfigIssue | None, path: ConfigPath, config: FederationConfig) -> ConfigIssue:
    if origin is not None:
        return origin
    return ConfigIssue(config.source_file, path, "")


def _check_site_classes(config: FederationConfig) -> Iterator[tuple[ConfigIssue, str, str]]:
    """(location, key under it, problem) for the impl and vault classes of every site."""
    for key, site in config.sites.items():
        where = _where(site.origin, ("sites", key), config)
        if site.impl is not None:
            _, problem = _load_class(site.impl.path)
            if problem:
                yield where, "impl", problem
        for name, provider in site.providers.items():
            pwhere = _where(provider.origin, ("sites", key, "providers", name), config)
            if provider.impl is not None:
                _, problem = _load_class(provider.impl.path)
                if problem:
                    yield pwhere, "impl", problem
        vault = site.secrets_vault
        if vault is not None and vault.path is not None:
            cls, problem = _load_class(vault.path)
            if problem is None:
                sig = _signature(cls)
                if sig is not None:
                    given = dict.fromkeys(vault.args, _ALWAYS)
                    for problem in _check_call(
                        sig,
                        given,
                        f"{vault.path}()",
                        lambda a: f"secrets_vault.args gives ({a})",
                        never="secrets_vault.args does not give",
                    ):
                        yield where, "secrets_vault", problem
                if not callable(getattr(cls, "secret_for_key", None)):
                    yield where, "secrets_vault", f"{vault.path} has no secret_for_key method"
            else:
                yield where, "secrets_vault", problem


def check_adapters(
    config: FederationConfig, search_path: Sequence[str | Path] = ()
) -> list[ConfigIssue]:
    """Import every adapter of a federation and check it against its binding.

    Args:
        config: The loaded federation config.
        search_path: Folders put in front of ``sys.path`` while importing (where the
            adapters' packages and the generated package live).

    Returns:
        Every mismatch, as issues with the file and path where it is written (a site's
        ``impl`` or ``secrets_vault``, a binding's ``adapter``); empty when everything
        fits.
    """
    issues: list[ConfigIssue] = []
    with _on_sys_path(search_path):
        for where, key, problem in _check_site_classes(config):
            issues.append(ConfigIssue(where.file, (*where.path, key), problem + where.message))
        for path, op, binding in _bindings(config):
            at = _where(binding.origin, path, config)
            for problem in _check_binding(config, op, binding):
                issues.append(ConfigIssue(at.file, (*at.path, "adapter"), problem + at.message))
    return issues
