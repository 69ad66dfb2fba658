"""The DFM compiler: a pipeline becomes one Petri-net IR (NetIR) per participating site.

``prepare`` places every operation on the candidate site where it costs least
(fed_info's compute and send costs) and lowers the placed pipeline into NetIRs, wrapped
in a :class:`PreparedPipeline`. Everything here is pure and deterministic.
"""

from ._checks import ParamCheck
from ._compile import candidate_sites, prepare
from ._ir import (
    AdapterCall,
    DoneValue,
    FlowValue,
    InPlace,
    IRStmt,
    LiteralValue,
    NetIR,
    ParamValue,
    PlacedOperation,
    PlaceValue,
    SendData,
    StmtValue,
    StopValue,
    TaggedValue,
    TokenSend,
    Transition,
    YieldPlace,
)
from ._ir_discovery import AdapterDiscovery, AdviceEntry, AdviceReport
from ._lower import STATUS_TRANSITION
from ._placement import MISSING_SEND_COST
from ._prepared import PreparedPipeline

__all__ = [
    "MISSING_SEND_COST",
    "STATUS_TRANSITION",
    "AdapterCall",
    "AdapterDiscovery",
    "AdviceEntry",
    "AdviceReport",
    "DoneValue",
    "FlowValue",
    "IRStmt",
    "InPlace",
    "LiteralValue",
    "NetIR",
    "ParamCheck",
    "ParamValue",
    "PlacedOperation",
    "PlaceValue",
    "PreparedPipeline",
    "SendData",
    "StmtValue",
    "StopValue",
    "TaggedValue",
    "TokenSend",
    "Transition",
    "YieldPlace",
    "candidate_sites",
    "prepare",
]
