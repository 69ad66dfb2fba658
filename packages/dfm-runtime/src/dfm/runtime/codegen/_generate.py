"""NetIR → the Python source of a site net module (``class ThisNet(Net)``).

The generated module is the hot path of a job, so it is plain and small: metadata as
``TransitionSpec``/``SendSpec`` tuples the runner reads, and one ``async def t<k>_fire``
per transition with a body, which calls the adapters in order and then sends. Output is
deterministic: the same NetIR gives the same text.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
from typing import Any

from dfm.api import DecodePolicy
from dfm.irgen import (
    AdapterCall,
    DoneValue,
    FlowValue,
    LiteralValue,
    NetIR,
    PlaceValue,
    StmtValue,
    StopValue,
    TokenSend,
    Transition,
)

from ._discovery import DISCOVERY_RUNTIME_NAMES, DISCOVERY_STATEMENTS, discovery_expr
from ._validate import validate_netir

RUNTIME = "dfm.runtime"
"""The module the generated code imports its base classes from."""

_RUNTIME_NAMES = (
    "FLOW, STOP_TOKEN, DecodePolicy, FlowInfo, Net, SendSpec, TransitionSpec, decode_literal, "
    "done_value, select"
)


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _docstring(text: str, indent: str = "") -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    first, *rest = escaped.splitlines()
    while rest and not rest[0].strip():
        rest.pop(0)
    if not rest:
        return f'{indent}"""{first}"""'
    body = "\n".join(f"{indent}{line}" if line else "" for line in rest)
    return f'{indent}"""{first}\n\n{body}\n{indent}"""'


def _comment(text: str) -> str:
    """A one-line comment: ``ascii()`` escapes every line break and control character."""
    return "# " + ascii(text)[1:-1]


def _tuple(items: list[str]) -> str:
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({', '.join(items)})"


def _tagged_literal(value: Any, where: str) -> str:
    """A tagged value as Python source (via JSON, so only plain literals appear)."""
    try:
        plain = json.loads(json.dumps(list(value), allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: the literal {value!r:.80} is not a JSON tagged value") from e
    if not (isinstance(plain, list) and len(plain) == 2 and isinstance(plain[0], str)):
        raise ValueError(f"{where}: {value!r:.80} is not a (tag, json) tagged value")
    return repr(tuple(plain))


class _Module:
    """Collects the module-level literals while transitions are rendered."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.literals: list[str] = []  # source lines
        self.count = 0

    def literal(self, tagged: Any, comment: str) -> str:
        name = f"_L{self.count}"
        self.count += 1
        self.literals.append(_comment(comment))
        value = _tagged_literal(tagged, comment)
        where = f"Site {self.site!r} refuses the literal of {comment}"
        self.literals.append(f"{name} = decode_literal({value}, _POLICY, {where!r})")
        return name


def _const(module: _Module, data: Any, where: str) -> str:
    if isinstance(data, FlowValue):
        return "FLOW" if data.hint is None else f"FlowInfo(hint={data.hint!r})"
    if isinstance(data, StopValue):
        return "STOP_TOKEN"
    if isinstance(data, LiteralValue):
        return module.literal(data.value, where)
    raise AssertionError(data)


def _send_spec(module: _Module, t: Transition, send: TokenSend, where: str) -> str:
    args = [repr(send.site), repr(send.place)]
    if send.is_yield:
        args.append("is_yield=True")
    if send.node_id is not None:
        args.append(f"node_id={send.node_id!r}")
    data = send.data
    if isinstance(data, StmtValue) and not t.body:
        raise ValueError(f"{where}: statement {data.stmt_id!r} is not computed before use")
    if isinstance(data, PlaceValue):
        args.append(f"index={_input_index(t, data.place, where)}")
    elif isinstance(data, DoneValue):
        args.append("done=True")
    elif not isinstance(data, StmtValue) and not t.body:
        args.append(f"value={_const(module, data, where)}")
    if isinstance(data, (PlaceValue, StmtValue)) and data.sel is not None:
        args.append(f"sel={data.sel!r}")
        if data.issubs is not None:
            args.append(f"issubs={data.issubs!r}")
    return f"SendSpec({', '.join(args)})"


def _input_index(t: Transition, place: str, where: str) -> int:
    for i, p in enumerate(t.inputs):
        if p.name == place:
            return i
    raise ValueError(f"{where}: place {place!r} is not an input of transition {t.name!r}")


def _selected(expr: str, sel: int | str | None, issubs: bool | None) -> str:
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
        return f"data[{_input_index(t, data.place, where)}]"
    raise AssertionError(data)


def _call(call: AdapterCall, t: Transition, module: _Module, stmts: dict[str, str]) -> str:
    where = f"transition {t.name!r}, node {call.node_id!r} ({call.adapter})"
    method = call.method_name
    if not _is_name(method):
        raise ValueError(f"{where}: {method!r} is not a valid method name")
    target = "site"
    if call.provider is not None:
        if not _is_name(call.provider):
            raise ValueError(f"{where}: provider {call.provider!r} is not a valid attribute")
        target = f"site.{call.provider}"
    params: dict[str, str] = {}
    for name, tagged in call.literal_params.items():
        params[name] = module.literal(tagged, f"{where}, parameter {name!r}")
    for name, ref in call.stmt_params.items():
        expr = _value_expr(t, ref, stmts, where)
        params[name] = _selected(expr, ref.sel, ref.issubs)
    plain = [f"{n}={params[n]}" for n in sorted(params) if _is_name(n)]
    odd = [f"{n!r}: {params[n]}" for n in sorted(params) if not _is_name(n)]
    if odd:
        plain.append("**{" + ", ".join(odd) + "}")
    if call.is_async:
        return f"await {target}.{method}({', '.join(plain)})"
    return f"await self._run_sync({', '.join([f'{target}.{method}', *plain])})"


def _fire_method(module: _Module, k: int, t: Transition) -> list[str]:
    stmts: dict[str, str] = {}
    calls: list[tuple[Any, str, str, str]] = []
    for stmt in t.body:
        if isinstance(stmt, AdapterCall):
            expr, comment = _call(stmt, t, module, stmts), f"{stmt.stmt_id}: {stmt.adapter}"
        elif isinstance(stmt, DISCOVERY_STATEMENTS):
            expr, comment = discovery_expr(stmt, t.name, module.literal, stmts)
        else:
            raise ValueError(
                f"Transition {t.name!r}: this runtime cannot execute {type(stmt).__name__}"
            )
        var = f"v{len(stmts)}"
        if stmt.stmt_id in stmts:
            raise ValueError(f"Transition {t.name!r}: statement {stmt.stmt_id!r} defined twice")
        stmts[stmt.stmt_id] = var
        calls.append((stmt, var, expr, comment))
    lines = [
        f"    async def t{k}_fire(self, frame, data):",
        "        " + _comment(f"{t.name}: inputs {', '.join(p.name for p in t.inputs)}"),
        "        site = self.site",
    ]
    # An advice report belongs to no node; its (never expected) failure is the site's.
    ids = [getattr(c, "node_id", None) for c, _, _, _ in calls]
    track = len(set(ids)) > 1
    if track:
        lines.append(f"        node = {ids[0]!r}")
    lines.append("        try:")
    for i, (_, var, expr, comment) in enumerate(calls):
        if track and i:
            lines.append(f"            node = {ids[i]!r}")
        lines.append(f"            {var} = {expr}  {_comment(comment)}")
    node = "node" if track else repr(ids[0])
    lines += [
        # Any exception of an adapter ends this frame only (SystemExit, KeyboardInterrupt
        # and custom BaseExceptions too); _fail re-raises a cancellation of the firing.
        "        except BaseException as e:",
        f"            self._fail({k}, frame, {node}, e)",
        "            return",
    ]
    if t.sends:
        lines.append("        send = self.ctx.send")
    done = any(isinstance(send.data, DoneValue) for send in t.sends)
    if done and not isinstance(t.sends[-1].data, DoneValue):
        raise ValueError(f"Transition {t.name!r}: the report to the status must be its last send")
    if done:
        # The report to the status transition carries the errors of the sends before it.
        lines.append("        errors = (")
    for send in t.sends:
        where = f"transition {t.name!r}, send to {send.site}/{send.place}"
        data = send.data
        if isinstance(data, DoneValue):
            lines.append("        )")
            value = "done_value(errors)"
        elif isinstance(data, (StmtValue, PlaceValue)):
            value = _value_expr(t, data, stmts, where)
        else:
            value = _const(module, data, where)
        args = [repr(send.site), repr(send.place), "frame", value]
        if send.is_yield:
            args.append("is_yield=True")
        if send.node_id is not None:
            args.append(f"node_id={send.node_id!r}")
        if isinstance(data, (StmtValue, PlaceValue)) and data.sel is not None:
            args.append(f"sel={data.sel!r}")
            if data.issubs is not None:
                args.append(f"issubs={data.issubs!r}")
        if done and not isinstance(data, DoneValue):
            lines.append(f"            send({', '.join(args)}),")
        else:
            lines.append(f"        send({', '.join(args)})")
    return lines


def _policy_source(policy: DecodePolicy) -> str:
    args = []
    for f in dataclasses.fields(policy):
        value = getattr(policy, f.name)
        strings = type(value) is tuple and all(type(v) is str for v in value)
        if not (type(value) is bool or strings):
            raise ValueError(f"DecodePolicy.{f.name} = {value!r:.80} cannot be written as code")
        args.append(f"{f.name}={value!r}")
    return f"DecodePolicy({', '.join(args)})"


def generate_net_source(
    netir: NetIR, runtime_module_name: str = RUNTIME, policy: DecodePolicy | None = None
) -> str:
    """The Python source of the net module of ``netir``.

    The NetIR is checked first (:func:`validate_netir`): the source holds received
    names only as checked identifiers or through ``repr()``. Literal parameters are
    decoded once, when the module is imported, under the site's decode policy; a
    literal the policy refuses makes the import fail with the reason.

    Args:
        netir: The site's net.
        runtime_module_name: The module providing ``Net`` and the other runtime names.
        policy: The site's decode policy for the literals (None: the restrictive
            default, no pickles and no model classes outside the allowed modules).

    Raises:
        NetIRRefused: A name in the NetIR breaks its rule.
        ValueError: The NetIR holds something this generator cannot express (an unknown
            statement, a reference to an undefined statement or place, a bad name).
    """
    validate_netir(netir)
    module = _Module(netir.site)
    specs: list[str] = []
    methods: list[list[str]] = []
    for k, t in enumerate(netir.transitions):
        fire = None
        eager = False
        if t.body:
            fire = f"t{k}_fire"
            methods.append(_fire_method(module, k, t))
            eager = not any(getattr(s, "is_async", True) for s in t.body)
        sends = [
            _send_spec(module, t, s, f"transition {t.name!r}, send to {s.site}/{s.place}")
            for s in t.sends
        ]
        spec = [
            "        TransitionSpec(",
            f"            name={t.name!r},",
            f"            node_id={t.node_id!r},",
            f"            inputs={_tuple([repr(p.name) for p in t.inputs])},",
            "            sends=(",
            *(f"                {s}," for s in sends),
            "            ),",
            f"            fire={fire!r},",
            f"            eager={eager!r},",
            "        ),",
        ]
        specs += spec
    external = ", ".join(
        f"{name!r}: {_tuple([repr(p) for p in places])}" for name, places in netir.external.items()
    )
    name = netir.pipeline_name or "unnamed"
    header = (
        f"Petri net of site {netir.site!r} for pipeline {name!r} "
        f"(federation {netir.federation_name!r}).\n\n"
        f"NetIR fingerprint: {netir.fingerprint}\n"
        "Generated by dfm.runtime.codegen, do not edit."
    )
    names = _RUNTIME_NAMES
    if any(isinstance(s, DISCOVERY_STATEMENTS) for t in netir.transitions for s in t.body):
        names = f"{_RUNTIME_NAMES}, {DISCOVERY_RUNTIME_NAMES}"
    out = [
        _docstring(header),
        "",
        f"from {runtime_module_name} import {names}",
        "",
    ]
    if module.literals:
        out += [
            "# The pipeline's literals, decoded once at import under the site's policy.",
            f"_POLICY = {_policy_source(policy if policy is not None else DecodePolicy())}",
            *module.literals,
            "",
        ]
    out += [
        "",
        "class ThisNet(Net):",
        _docstring(f"Site {netir.site!r} of pipeline {name!r}.", "    "),
        "",
        "    __slots__ = ()",
        f"    SITE = {netir.site!r}",
        f"    HOMESITE = {netir.homesite!r}",
        f"    PIPELINE_NAME = {netir.pipeline_name!r}",
        f"    FINGERPRINT = {netir.fingerprint!r}",
        f"    EXTERNAL = {{{external}}}",
        "    TRANSITIONS = (",
        *specs,
        "    )",
    ]
    for lines in methods:
        out += ["", *lines]
    return "\n".join(out) + "\n"
