"""The DFM compiler: a pipeline becomes one Petri-net IR (NetIR) per participating site.

``prepare`` places every operation on the candidate site where it costs least
(fed_info's compute and send costs) and lowers the placed pipeline into NetIRs, wrapped
in a :class:`PreparedPipeline`. Everything here is pure and deterministic.
"""

from ._checks import ParamCheck
from ._compile import candidate_sites, prepare
from ._ir import (
    AdapterCall,
    InPlace,
    IRStmt,
    NetIR,
    PlacedOperation,
    TokenSend,
    Transition,
    YieldPlace,
)
from ._ir_blocks import (
    BLOCK_OPERATIONS,
    BlockSpec,
    CacheLookup,
    CacheWrite,
    Collect,
    CondAnd,
    CondAtom,
    CondCompare,
    CondExpr,
    Condition,
    CondNot,
    CondOr,
    CondTruth,
    FanOut,
    Guard,
    Scatter,
)
from ._ir_discovery import AdapterDiscovery, AdviceEntry, AdviceReport
from ._ir_values import (
    AckValue,
    DoneValue,
    ElementValue,
    FlowValue,
    IRModel,
    LiteralValue,
    ParamValue,
    PlaceValue,
    ResultValue,
    SendData,
    StmtValue,
    StopValue,
    TaggedValue,
)
from ._lower import STATUS_TRANSITION
from ._nodes import canonical_json
from ._placement import MISSING_SEND_COST
from ._prepared import PreparedPipeline

__all__ = [
    "BLOCK_OPERATIONS",
    "MISSING_SEND_COST",
    "STATUS_TRANSITION",
    "AckValue",
    "AdapterCall",
    "AdapterDiscovery",
    "AdviceEntry",
    "AdviceReport",
    "BlockSpec",
    "CacheLookup",
    "CacheWrite",
    "Collect",
    "CondAnd",
    "CondAtom",
    "CondCompare",
    "CondExpr",
    "CondNot",
    "CondOr",
    "CondTruth",
    "Condition",
    "DoneValue",
    "ElementValue",
    "FanOut",
    "FlowValue",
    "Guard",
    "IRModel",
    "IRStmt",
    "InPlace",
    "LiteralValue",
    "NetIR",
    "ParamCheck",
    "ParamValue",
    "PlacedOperation",
    "PlaceValue",
    "PreparedPipeline",
    "ResultValue",
    "Scatter",
    "SendData",
    "StmtValue",
    "StopValue",
    "TaggedValue",
    "TokenSend",
    "Transition",
    "YieldPlace",
    "canonical_json",
    "candidate_sites",
    "prepare",
]
