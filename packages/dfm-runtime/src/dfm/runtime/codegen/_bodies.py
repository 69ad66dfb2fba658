"""The methods of a generated net: ``t<k>_fire`` and ``t<k>_cond``.

``t<k>_fire`` runs an operation transition (its adapter calls, then its sends);
``t<k>_cond`` is an If's condition, compiled from its tree.

Everything interpolated into the source is either a validated identifier (method and
provider names), an int, or a ``repr`` of a JSON value; literals are module-level
constants decoded at import.
"""

from __future__ import annotations

import json
import keyword
from typing import Any

from dfm.irgen import (
    AdapterCall,
    CondAnd,
    CondCompare,
    CondNot,
    CondOr,
    CondTruth,
    DoneValue,
    FlowValue,
    LiteralValue,
    PlaceValue,
    StmtValue,
    StopValue,
    Transition,
)

from ._discovery import DISCOVERY_STATEMENTS, discovery_expr

_COMPARE = {"==": "==", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def is_name(text: str) -> bool:
    """Whether ``text`` can be written as a Python identifier."""
    return text.isidentifier() and not keyword.iskeyword(text)


def comment(text: Any) -> str:
    """Text that is safe in a ``#`` comment: line breaks and control characters escaped.

    Received names are checked before, but a comment must be able to hold anything.
    """
    return ascii(str(text))[1:-1]


def tagged_literal(value: Any, where: str) -> str:
    """A tagged value as Python source (via JSON, so only plain literals appear)."""
    try:
        plain = json.loads(json.dumps(list(value), allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: the literal {value!r:.80} is not a JSON tagged value") from e
    if not (isinstance(plain, list) and len(plain) == 2 and isinstance(plain[0], str)):
        raise ValueError(f"{where}: {value!r:.80} is not a (tag, json) tagged value")
    return repr(tuple(plain))


class Module:
    """Collects the module-level literals while transitions are rendered."""

    def __init__(self, site: str) -> None:
        """No literal yet; ``site`` is named when the site's policy refuses one."""
        self.site = site
        self.literals: list[str] = []  # source lines
        self.count = 0

    def literal(self, tagged: Any, where: str) -> str:
        """The name of a module constant holding the literal, decoded under ``_POLICY``."""
        name = f"_L{self.count}"
        self.count += 1
        self.literals.append("# " + comment(where))
        value = tagged_literal(tagged, where)
        refused = f"Site {self.site!r} refuses the literal of {where}"
        self.literals.append(f"{name} = decode_literal({value}, _POLICY, {refused!r})")
        return name


def const(module: Module, data: Any, where: str) -> str:
    """The source of a constant a send carries."""
    if isinstance(data, FlowValue):
        return "FLOW" if data.hint is None else f"FlowInfo(hint={int(data.hint)!r})"
    if isinstance(data, StopValue):
        return "STOP_TOKEN"
    if isinstance(data, LiteralValue):
        return module.literal(data.value, where)
    raise AssertionError(data)


def input_index(t: Transition, place: str, where: str) -> int:
    """The position of input ``place`` of ``t``."""
    for i, p in enumerate(t.inputs):
        if p.name == place:
            return i
    raise ValueError(f"{where}: place {place!r} is not an input of transition {t.name!r}")


def selected(expr: str, sel: int | str | None, issubs: bool | None) -> str:
    """``expr`` with a selection applied."""
    if sel is None:
        return expr
    if issubs is True:
        return f"{expr}[{sel!r}]"
    if issubs is False:
        return f"getattr({expr}, {sel!r})"
    return f"select({expr}, {sel!r})"


def _value_expr(t: Transition, data: Any, stmts: dict[str, str], where: str) -> str:
    if isinstance(data, StmtValue):
        if data.stmt_id not in stmts:
            raise ValueError(f"{where}: statement {data.stmt_id!r} is not computed before use")
        return stmts[data.stmt_id]
    if isinstance(data, PlaceValue):
        return f"data[{input_index(t, data.place, where)}]"
    raise AssertionError(data)


def _call(call: AdapterCall, t: Transition, module: Module, stmts: dict[str, str]) -> str:
    where = f"transition {t.name!r}, node {call.node_id!r} ({call.adapter})"
    method = call.method_name
    if not is_name(method):
        raise ValueError(f"{where}: {method!r} is not a valid method name")
    target = "site"
    if call.provider is not None:
        if not is_name(call.provider):
            raise ValueError(f"{where}: provider {call.provider!r} is not a valid attribute")
        target = f"site.{call.provider}"
    params: dict[str, str] = {}
    for name, tagged in call.literal_params.items():
        params[name] = module.literal(tagged, f"{where}, parameter {name!r}")
    for name, ref in call.stmt_params.items():
        expr = _value_expr(t, ref, stmts, where)
        params[name] = selected(expr, ref.sel, ref.issubs)
    plain = [f"{n}={params[n]}" for n in sorted(params) if is_name(n)]
    odd = [f"{n!r}: {params[n]}" for n in sorted(params) if not is_name(n)]
    if odd:
        plain.append("**{" + ", ".join(odd) + "}")
    if call.is_async:
        return f"await {target}.{method}({', '.join(plain)})"
    return f"await self.run_sync({', '.join([f'{target}.{method}', *plain])})"


def _literal_node_id(node_id: int | str | None) -> str:
    if node_id is None or isinstance(node_id, (int, str)):
        return repr(node_id)
    raise ValueError(f"node id {node_id!r} is neither an int nor a str")


def fire_method(module: Module, k: int, t: Transition) -> list[str]:
    """``async def t<k>_fire(self, frame, data)``: the adapter calls, then the sends."""
    stmts: dict[str, str] = {}
    calls: list[tuple[Any, str, str, str]] = []
    for stmt in t.body:
        if isinstance(stmt, AdapterCall):
            expr, note = _call(stmt, t, module, stmts), f"{stmt.stmt_id}: {stmt.adapter}"
        elif isinstance(stmt, DISCOVERY_STATEMENTS):
            expr, note = discovery_expr(stmt, t.name, module.literal, stmts)
        else:
            raise ValueError(
                f"Transition {t.name!r}: this runtime cannot execute {type(stmt).__name__}"
            )
        var = f"v{len(stmts)}"
        if stmt.stmt_id in stmts:
            raise ValueError(f"Transition {t.name!r}: statement {stmt.stmt_id!r} defined twice")
        stmts[stmt.stmt_id] = var
        calls.append((stmt, var, expr, note))
    lines = [
        f"    async def t{k}_fire(self, frame, data):",
        "        # " + comment(f"{t.name}: inputs {', '.join(p.name for p in t.inputs)}"),
        "        site = self.site",
    ]
    # An advice report belongs to no node; its (never expected) failure is the site's.
    ids = [getattr(c, "node_id", None) for c, _, _, _ in calls]
    track = len(set(ids)) > 1
    if track:
        lines.append(f"        node = {_literal_node_id(ids[0])}")
    lines.append("        try:")
    for i, (call, var, expr, note) in enumerate(calls):
        if track and i:
            lines.append(f"            node = {_literal_node_id(ids[i])}")
        lines.append(f"            {var} = {expr}  # " + comment(note))
        if isinstance(call, AdapterCall) and not call.stream:
            # A generator result is sent as the list of its elements.
            lines.append(f"            if type({var}) not in PLAIN_TYPES and is_stream({var}):")
            lines.append(f"                {var} = await self.materialize({var})")
    node = "node" if track else _literal_node_id(ids[0])
    lines += [
        # Any exception of an adapter ends this frame only (SystemExit, KeyboardInterrupt
        # and custom BaseExceptions too); fail() re-raises a cancellation of the firing.
        "        except BaseException as e:",
        f"            self.fail({k}, frame, {node}, e)",
        "            return",
    ]
    if t.sends:
        lines.append("        send = self.send")
    done = [s for s in t.sends if isinstance(s.data, DoneValue)]
    if done and (len(done) > 1 or not isinstance(t.sends[-1].data, DoneValue)):
        raise ValueError(f"Transition {t.name!r}: the report to the status must be its last send")
    plain = [s for s in t.sends if not s.guarded and not isinstance(s.data, DoneValue)]
    guarded = [s for s in t.sends if s.guarded]
    if guarded and t.guard is None:
        raise ValueError(f"Transition {t.name!r}: guarded sends without a guard")
    if any(isinstance(s.data, DoneValue) for s in guarded):
        raise ValueError(f"Transition {t.name!r}: the report of the frame cannot be guarded")
    calls_of = [_send_call(module, t, s, stmts) for s in plain]
    # The report to the status transition carries the errors of the sends before it.
    if done:
        lines += ["        errors = (", *(f"            {c}," for c in calls_of), "        )"]
    else:
        lines += [f"        {c}" for c in calls_of]
    if t.guard is not None:
        where = f"transition {t.name!r} (If {t.guard.node_id!r})"

        def atom(a: Any) -> str:
            return _guard_atom(module, t, a, stmts, where)

        guard_calls = [_send_call(module, t, s, stmts) for s in guarded]
        guard_node = _literal_node_id(t.guard.node_id)
        lines += [
            "        # " + comment(f"the If {t.guard.node_id} fused into this transition"),
            "        try:",
            f"            ok = {condition_source(t.guard.expr, atom, where)}",
            "        except Exception as e:",
            f"            ok = self.guard_failed({k}, frame, {guard_node}, e)",
            "        if ok:",
        ]
        if done:
            lines += ["            errors += (", *(f"                {c}," for c in guard_calls)]
            lines.append("            )")
        else:
            lines += [f"            {c}" for c in guard_calls] or ["            pass"]
        lines += ["        elif ok is not None:", f"            self.guard_skipped({k}, frame)"]
    for send in done:
        data = send.data
        assert isinstance(data, DoneValue)
        target = f"{send.site!r}, {send.place!r}, frame"
        if data.only_errors:
            # Only an error is worth reporting (a collect counts closes).
            lines += [
                "        done = done_value(errors)",
                "        if done is not FLOW:",
                f"            send({target}, done)",
            ]
        else:
            lines.append(f"        send({target}, done_value(errors))")
    return lines


def _send_call(module: Module, t: Transition, send: Any, stmts: dict[str, str]) -> str:
    where = f"transition {t.name!r}, send to {send.site}/{send.place}"
    data = send.data
    if isinstance(data, (StmtValue, PlaceValue)):
        value = _value_expr(t, data, stmts, where)
    elif isinstance(data, (FlowValue, StopValue, LiteralValue)):
        value = const(module, data, where)
    else:
        raise ValueError(f"{where}: an operation cannot send {type(data).__name__}")
    args = [repr(send.site), repr(send.place), "frame", value]
    if send.is_yield:
        args.append("is_yield=True")
    if send.node_id is not None:
        args.append(f"node_id={_literal_node_id(send.node_id)}")
    if isinstance(data, (StmtValue, PlaceValue)) and data.sel is not None:
        args.append(f"sel={data.sel!r}")
        if data.issubs is not None:
            args.append(f"issubs={data.issubs!r}")
    return f"send({', '.join(args)})"


def _guard_atom(module: Module, t: Transition, a: Any, stmts: dict[str, str], where: str) -> str:
    if isinstance(a, StmtValue):
        return selected(_value_expr(t, a, stmts, where), a.sel, a.issubs)
    if isinstance(a, LiteralValue):
        return module.literal(a.value, f"{where}, condition literal")
    raise ValueError(f"{where}: {type(a).__name__} is not a value of a guard")


def condition_source(expr: Any, atom: Any, where: str) -> str:
    """Python source of a condition tree; ``atom`` renders its values."""

    def render(e: Any, depth: int) -> str:
        if depth > 100:
            raise ValueError(f"{where}: the condition is nested more than 100 levels deep")
        if isinstance(e, CondAnd):
            return "(" + " and ".join(render(x, depth + 1) for x in e.exp) + ")"
        if isinstance(e, CondOr):
            return "(" + " or ".join(render(x, depth + 1) for x in e.exp) + ")"
        if isinstance(e, CondNot):
            return f"(not {render(e.exp, depth + 1)})"
        if isinstance(e, CondCompare):
            op = _COMPARE.get(e.op)
            if op is None:
                raise ValueError(f"{where}: unknown comparison {e.op!r}")
            return f"({atom(e.left)} {op} {atom(e.right)})"
        if isinstance(e, CondTruth):
            return f"bool({atom(e.value)})"
        raise ValueError(f"{where}: {type(e).__name__} is not a condition")

    return render(expr, 0)


def cond_method(module: Module, k: int, t: Transition, expr: Any) -> list[str]:
    """``def t<k>_cond(self, data)``: the If's condition over the inputs."""
    where = f"transition {t.name!r} (If {t.node_id!r})"

    def atom(a: Any) -> str:
        if isinstance(a, PlaceValue):
            return selected(f"data[{input_index(t, a.place, where)}]", a.sel, a.issubs)
        if isinstance(a, LiteralValue):
            return module.literal(a.value, f"{where}, condition literal")
        raise ValueError(f"{where}: {type(a).__name__} is not a condition value")

    return [
        f"    def t{k}_cond(self, data):",
        "        # " + comment(f"{t.name}: the condition of If {t.node_id}"),
        f"        return {condition_source(expr, atom, where)}",
    ]
