"""Site code for the discovery statements (``AdapterDiscovery``, ``AdviceReport``).

``AdapterDiscovery`` becomes ``await discover(site, "[provider.]discover_<op>", ...)``
(:func:`dfm.runtime.discover` never raises: a failing site method gives an
``ErrorFieldAdvice``), ``AdviceReport`` a call of :func:`dfm.runtime.advice_report`.
Every name that reaches the source is checked here: method and provider names must
be identifiers, node ids ints or identifiers, parameter names are passed as strings.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from dfm.irgen import AdapterDiscovery, AdviceReport, IRStmt

DISCOVERY_STATEMENTS = (AdapterDiscovery, AdviceReport)
"""The statement kinds this module renders."""

DISCOVERY_RUNTIME_NAMES = "advice_report, discover"
"""What a net with discovery statements imports from the runtime, beside the rest."""


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _node_id(node_id: Any, where: str) -> str:
    if isinstance(node_id, bool) or not isinstance(node_id, (int, str)):
        raise ValueError(f"{where}: node id {node_id!r} is neither an int nor a name")
    if isinstance(node_id, str) and not _is_name(node_id):
        raise ValueError(f"{where}: node id {node_id!r} is not a valid identifier")
    return repr(node_id)


def _params(call: AdapterDiscovery, literal: Callable[[Any, str], str], where: str) -> list[str]:
    args = {
        name: literal(tagged, f"{where}, parameter {name!r}")
        for name, tagged in call.literal_params.items()
    }
    plain = [f"{n}={args[n]}" for n in sorted(args) if _is_name(n)]
    odd = [f"{n!r}: {args[n]}" for n in sorted(args) if not _is_name(n)]
    if odd:
        plain.append("**{" + ", ".join(odd) + "}")
    return plain


def discovery_expr(
    stmt: IRStmt,
    transition: str,
    literal: Callable[[Any, str], str],
    stmts: dict[str, str],
) -> tuple[str, str]:
    """The expression a discovery statement assigns, and the comment beside it.

    Args:
        stmt: An ``AdapterDiscovery`` or ``AdviceReport``.
        transition: The transition's name (for error messages).
        literal: Renders a tagged literal as a module constant (``_Module.literal``).
        stmts: The variables of the statements computed so far, by statement id.

    Raises:
        ValueError: A name that is not an identifier, or an entry naming a statement
            that is not computed before the report.
    """
    if isinstance(stmt, AdapterDiscovery):
        where = f"transition {transition!r}, node {stmt.node_id!r} ({stmt.adapter})"
        _node_id(stmt.node_id, where)
        method = stmt.method_name
        if not _is_name(method):
            raise ValueError(f"{where}: {method!r} is not a valid method name")
        if stmt.provider is not None:
            if not _is_name(stmt.provider):
                raise ValueError(f"{where}: provider {stmt.provider!r} is not a valid attribute")
            method = f"{stmt.provider}.{method}"
        args = ", ".join(["site", repr(method), *_params(stmt, literal, where)])
        return f"await discover({args})", f"{stmt.stmt_id}: advice for {stmt.adapter}"
    if isinstance(stmt, AdviceReport):
        where = f"transition {transition!r}, advice report {stmt.stmt_id!r}"
        entries = []
        for entry in stmt.entries:
            if entry.stmt_id not in stmts:
                raise ValueError(
                    f"{where}: statement {entry.stmt_id!r} is not computed before the report"
                )
            entries.append(f"({_node_id(entry.node_id, where)}, {stmts[entry.stmt_id]})")
        return f"advice_report({', '.join(entries)})", f"{stmt.stmt_id}: the advice of the site"
    raise AssertionError(stmt)
