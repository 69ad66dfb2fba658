"""NetIR → the Python source of a site net module (``class ThisNet(Net)``).

The generated module is the hot path of a job, so it is plain and small: metadata as
``TransitionSpec``/``SendSpec``/``BlockSpec`` tuples the runner reads, one ``async def
t<k>_fire`` per operation transition (its adapter calls, then its sends) and one ``def
t<k>_cond`` per If condition. Block transitions (fan-out, scatter, collect, cache) are
run by the runtime from their spec. The module uses only public names of the runtime.
Output is deterministic: the same NetIR gives the same text.
"""

from __future__ import annotations

import dataclasses

from dfm.api import DecodePolicy
from dfm.irgen import (
    BLOCK_OPERATIONS,
    AckValue,
    CacheLookup,
    CacheWrite,
    Collect,
    Condition,
    DoneValue,
    ElementValue,
    FanOut,
    FlowValue,
    LiteralValue,
    NetIR,
    PlaceValue,
    ResultValue,
    Scatter,
    StmtValue,
    StopValue,
    TokenSend,
    Transition,
)

from ._bodies import Module, cond_method, const, fire_method, input_index
from ._discovery import DISCOVERY_RUNTIME_NAMES, DISCOVERY_STATEMENTS
from ._validate import validate_netir

RUNTIME = "dfm.runtime"
"""The module the generated code imports its base classes from."""

_RUNTIME_NAMES = (
    "FLOW",
    "PLAIN_TYPES",
    "STOP_TOKEN",
    "BlockSpec",
    "DecodePolicy",
    "FlowInfo",
    "Net",
    "SendSpec",
    "TransitionSpec",
    "decode_literal",
    "done_value",
    "is_stream",
    "select",
)

# What each kind of transition may send (an operation: everything but block values).
_SENDS: dict[str | None, tuple[type, ...]] = {
    None: (StmtValue, PlaceValue, LiteralValue, FlowValue, StopValue, DoneValue),
    "fan_out": (ElementValue, ResultValue, DoneValue),
    "scatter": (ResultValue, FlowValue, DoneValue),
    "collect": (DoneValue, AckValue),
    "cond": (PlaceValue, LiteralValue, FlowValue, DoneValue),
    "cache_lookup": (ResultValue, FlowValue),
    "cache_write": (ResultValue, DoneValue),
}


def _docstring(text: str, indent: str = "") -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    first, *rest = escaped.splitlines()
    while rest and not rest[0].strip():
        rest.pop(0)
    if not rest:
        return f'{indent}"""{first}"""'
    body = "\n".join(f"{indent}{line}" if line else "" for line in rest)
    return f'{indent}"""{first}\n\n{body}\n{indent}"""'


def _tuple(items: list[str]) -> str:
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({', '.join(items)})"


def _send_spec(module: Module, t: Transition, send: TokenSend, where: str) -> str:
    args = [repr(send.site), repr(send.place)]
    if send.is_yield:
        args.append("is_yield=True")
    if send.node_id is not None:
        args.append(f"node_id={send.node_id!r}")
    if send.guarded:
        args.append("guarded=True")
    data = send.data
    if isinstance(data, StmtValue) and not t.body:
        raise ValueError(f"{where}: statement {data.stmt_id!r} is not computed before use")
    if isinstance(data, PlaceValue):
        args.append(f"index={input_index(t, data.place, where)}")
    elif isinstance(data, DoneValue):
        args.append("done=True")
        if data.only_errors:
            args.append("quiet=True")
    elif isinstance(data, ResultValue):
        args.append("result=True")
    elif isinstance(data, ElementValue):
        args.append("elements=True")
    elif isinstance(data, AckValue):
        args.append("ack=True")
    elif not isinstance(data, StmtValue) and not t.body:
        args.append(f"value={const(module, data, where)}")
    if isinstance(data, (PlaceValue, StmtValue, ResultValue)) and data.sel is not None:
        args.append(f"sel={data.sel!r}")
        if data.issubs is not None:
            args.append(f"issubs={data.issubs!r}")
    return f"SendSpec({', '.join(args)})"


def _check_kind(netir: NetIR, t: Transition) -> None:
    """The structure each block kind needs (a NetIR is untrusted input)."""
    where = f"Transition {t.name!r}"
    block = t.block
    kind = block.kind if block is not None else None
    if block is not None and t.body:
        raise ValueError(f"{where}: a {kind} transition has no body")
    if t.guard is not None and (block is not None or not t.body):
        raise ValueError(f"{where}: only an operation's transition can hold a fused If")
    allowed = _SENDS[kind]
    for send in t.sends:
        if not isinstance(send.data, allowed):
            what = f"a {kind} transition" if kind else "an operation"
            raise ValueError(f"{where}: {what} cannot send {send.data.kind!r}")
        if send.is_yield and isinstance(send.data, (ElementValue, AckValue, DoneValue)):
            raise ValueError(f"{where}: {send.data.kind!r} cannot go to the application")
    depths = [p.depth for p in t.inputs]
    deeper = [p.name for p in t.inputs if p.depth > t.depth]
    if isinstance(block, Scatter):
        if t.depth < 1 or depths != [t.depth - 1]:
            raise ValueError(f"{where}: a scatter has one input, one level above it")
    elif isinstance(block, Collect):
        if any(d not in (t.depth, t.depth + 1) for d in depths) or t.depth not in depths:
            raise ValueError(
                f"{where}: a collect's inputs are its outcome (depth {t.depth}) and the "
                f"reports of its elements (depth {t.depth + 1})"
            )
    elif isinstance(block, FanOut):
        ack = [block.ack] if block.ack is not None else []
        if deeper != ack:
            raise ValueError(f"{where}: only a fan-out's acks come from one level deeper")
        if ack and next(p.depth for p in t.inputs if p.name == block.ack) != t.depth + 1:
            raise ValueError(f"{where}: acks come from one level deeper")
    elif deeper:
        raise ValueError(f"{where}: input {deeper[0]!r} is deeper than the transition")
    if isinstance(block, CacheLookup):
        for send in t.sends:
            if isinstance(send.data, ResultValue) and send.site != netir.site:
                raise ValueError(f"{where}: a cache lookup's outcome stays on its site")


def _block_spec(module: Module, t: Transition, where: str) -> str:
    block = t.block
    if isinstance(block, FanOut):
        ack = input_index(t, block.ack, where) if block.ack is not None else -1
        seq = input_index(t, block.seq, where)
        return f"BlockSpec(kind='fan_out', seq={seq}, sequential={block.sequential!r}, ack={ack})"
    if isinstance(block, (Scatter, Collect, Condition)):
        return f"BlockSpec(kind={block.kind!r})"
    if isinstance(block, CacheLookup):
        if isinstance(block.key, PlaceValue):
            if block.key.sel is not None:
                raise ValueError(f"{where}: a cache key is selected by its sender")
            return f"BlockSpec(kind='cache_lookup', key={input_index(t, block.key.place, where)})"
        literal = module.literal(block.key.value, f"{where}, cache key")
        return f"BlockSpec(kind='cache_lookup', key_value={literal})"
    if isinstance(block, CacheWrite):
        lookup = input_index(t, block.lookup, where)
        if isinstance(block.value, PlaceValue):
            value = input_index(t, block.value.place, where)
            return f"BlockSpec(kind='cache_write', lookup={lookup}, value={value})"
        literal = module.literal(block.value.value, f"{where}, cached value")
        return f"BlockSpec(kind='cache_write', lookup={lookup}, literal={literal})"
    raise AssertionError(block)


def _policy_source(policy: DecodePolicy) -> str:
    args = []
    for f in dataclasses.fields(policy):
        value = getattr(policy, f.name)
        strings = type(value) is tuple and all(type(v) is str for v in value)
        if not (type(value) is bool or strings):
            raise ValueError(f"DecodePolicy.{f.name} = {value!r:.80} cannot be written as code")
        args.append(f"{f.name}={value!r}")
    return f"DecodePolicy({', '.join(args)})"


def node_operations(netir: NetIR) -> dict[int | str, str]:
    """Node id → what messages call it: the operation's API name, or the block's kind.

    Every name comes from a checked NetIR field (an adapter's dotted name, a block kind's
    literal), and the generator writes it with ``repr()``.
    """
    names: dict[int | str, str] = {}
    for t in netir.transitions:
        if t.block is not None and t.node_id is not None:
            names.setdefault(t.node_id, BLOCK_OPERATIONS[t.block.kind])
        if t.guard is not None:
            names.setdefault(t.guard.node_id, "If")
        for stmt in t.body:
            node_id, adapter = getattr(stmt, "node_id", None), getattr(stmt, "adapter", None)
            if node_id is not None and isinstance(adapter, str):
                names.setdefault(node_id, adapter)
    return names


def generate_net_source(
    netir: NetIR, runtime_module_name: str = RUNTIME, policy: DecodePolicy | None = None
) -> str:
    """The Python source of the net module of ``netir``.

    The NetIR is checked first (:func:`validate_netir`): the source holds received
    names only as checked identifiers or through ``repr()``. Literal parameters (and
    literal cache keys, cached values and condition operands) are decoded once, when
    the module is imported, under the site's decode policy; a literal the policy
    refuses makes the import fail with the reason.

    Args:
        netir: The site's net.
        runtime_module_name: The module providing ``Net`` and the other runtime names.
        policy: The site's decode policy for the literals (None: the restrictive
            default, no pickles and no model classes outside the allowed modules).

    Raises:
        NetIRRefused: A name in the NetIR breaks its rule.
        ValueError: The NetIR holds something this generator cannot express (an unknown
            statement, a reference to an undefined statement or place, a bad name, a
            block transition of the wrong shape).
    """
    validate_netir(netir)
    module = Module(netir.site)
    specs: list[str] = []
    methods: list[list[str]] = []
    for k, t in enumerate(netir.transitions):
        _check_kind(netir, t)
        where = f"transition {t.name!r}"
        fire = cond = None
        eager = False
        if t.body:
            fire = f"t{k}_fire"
            methods.append(fire_method(module, k, t))
            eager = not any(getattr(s, "is_async", True) for s in t.body)
        if isinstance(t.block, Condition):
            cond = f"t{k}_cond"
            methods.append(cond_method(module, k, t, t.block.expr))
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
        ]
        if t.depth:
            spec.append(f"            depth={t.depth!r},")
        if any(p.depth != t.depth for p in t.inputs):
            spec.append(f"            input_depths={_tuple([repr(p.depth) for p in t.inputs])},")
        if t.block is not None:
            spec.append(f"            block={_block_spec(module, t, where)},")
        if cond is not None:
            spec.append(f"            cond={cond!r},")
        specs += [*spec, "        ),"]
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
    names = list(_RUNTIME_NAMES)
    if any(isinstance(s, DISCOVERY_STATEMENTS) for t in netir.transitions for s in t.body):
        names += [n.strip() for n in DISCOVERY_RUNTIME_NAMES.split(",")]
    out = [
        _docstring(header),
        "",
        f"from {runtime_module_name} import (",
        *(f"    {name}," for name in names),
        ")",
        "",
    ]
    if module.literals:
        out += [
            "# The pipeline's literals, decoded once at import under the site's policy.",
            f"_POLICY = {_policy_source(policy if policy is not None else DecodePolicy())}",
            *module.literals,
            "",
        ]
    operations = ", ".join(f"{k!r}: {v!r}" for k, v in node_operations(netir).items())
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
        f"    OPERATIONS = {{{operations}}}",
        "    TRANSITIONS = (",
        *specs,
        "    )",
    ]
    for lines in methods:
        out += ["", *lines]
    return "\n".join(out) + "\n"
