"""The DFM pipeline language.

Build a pipeline from a federation's generated operation classes::

    from dfm.api import Pipeline, PlaceParam, Yield
    from examplefed.fed.api.users import GreetMe

    with Pipeline(name="greet") as p:
        greeting = GreetMe(name=PlaceParam(place="name"))
        Yield(value=greeting)

Pipelines are pydantic models that round-trip through JSON.
"""

from typing import TYPE_CHECKING, Any

from ._fed_info import (
    ComputeCostInfo,
    FedInfo,
    OperationInfo,
    ProviderInfo,
    SendCostInfo,
    SiteInfo,
    site_identifier,
)
from ._frame import FlowInfo, Frame
from ._literal import EncodedLiteral, encode_literal
from ._markers import Advise, BestOf, PlaceParam
from ._names import (
    DEFAULT_YIELD_PLACE,
    DISCOVERY_PLACE_NAME,
    START_PLACE_NAME,
    STATUS_PLACE_NAME,
    TELEMETRY_PLACE_NAME,
)
from ._node import NodeId, NodeRef, describe_node, make_auto_id, well_known_id
from ._operation import Located, NodeParam, Operation
from ._pipeline import Pipeline
from ._polymorphic import (
    PolymorphicBaseModel,
    allow_federation,
    allow_module_prefix,
    allowed_prefixes,
    federation_prefixes,
    is_module_allowed,
    resolve_class,
    trust_classes,
    trusted_class,
)
from ._schema_check import ValueSchema, schema_problems
from ._site_config import CacheConfig, SecretsVaultConfig
from ._statement import Block, Expression, Statement
from ._tagged import (
    TRUSTED,
    DecodePolicy,
    SerializationError,
    decode_value,
    encode_value,
    is_plain_json,
)
from ._tokens import ErrorInfo, ErrorToken, PickledObject, SkipToken, StopToken
from ._visitor import ApiVisitor
from ._yield import Yield

if TYPE_CHECKING:
    from ._boolexpr import (
        And,
        Atom,
        BooleanExpression,
        ComparisonExpression,
        Equal,
        GreaterThan,
        GreaterThanOrEqual,
        LessThan,
        LessThanOrEqual,
        Not,
        NotEqual,
        Or,
    )
    from ._control import ForEach, If, TryFromCache, WriteToCache

# Control flow and its boolean expressions are loaded on first use: most pipelines
# never use them, and every cold start would pay for their model classes.
_LAZY = {
    **dict.fromkeys(
        [
            "And",
            "Atom",
            "BooleanExpression",
            "ComparisonExpression",
            "Equal",
            "GreaterThan",
            "GreaterThanOrEqual",
            "LessThan",
            "LessThanOrEqual",
            "Not",
            "NotEqual",
            "Or",
        ],
        "._boolexpr",
    ),
    **dict.fromkeys(["ForEach", "If", "TryFromCache", "WriteToCache"], "._control"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dfm.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CacheConfig",
    "SecretsVaultConfig",
    "DEFAULT_YIELD_PLACE",
    "DISCOVERY_PLACE_NAME",
    "START_PLACE_NAME",
    "STATUS_PLACE_NAME",
    "TELEMETRY_PLACE_NAME",
    "TRUSTED",
    "DecodePolicy",
    "SerializationError",
    "decode_value",
    "encode_literal",
    "encode_value",
    "is_plain_json",
    "federation_prefixes",
    "Advise",
    "And",
    "ApiVisitor",
    "Atom",
    "BestOf",
    "Block",
    "BooleanExpression",
    "ComparisonExpression",
    "ComputeCostInfo",
    "EncodedLiteral",
    "Equal",
    "ErrorInfo",
    "ErrorToken",
    "Expression",
    "FedInfo",
    "FlowInfo",
    "ForEach",
    "Frame",
    "GreaterThan",
    "GreaterThanOrEqual",
    "If",
    "LessThan",
    "LessThanOrEqual",
    "Located",
    "NodeId",
    "describe_node",
    "NodeParam",
    "NodeRef",
    "Not",
    "NotEqual",
    "Operation",
    "OperationInfo",
    "Or",
    "PickledObject",
    "Pipeline",
    "PlaceParam",
    "PolymorphicBaseModel",
    "ProviderInfo",
    "SendCostInfo",
    "SiteInfo",
    "SkipToken",
    "Statement",
    "StopToken",
    "TryFromCache",
    "ValueSchema",
    "WriteToCache",
    "Yield",
    "allow_federation",
    "allow_module_prefix",
    "allowed_prefixes",
    "is_module_allowed",
    "make_auto_id",
    "resolve_class",
    "schema_problems",
    "site_identifier",
    "trust_classes",
    "trusted_class",
    "well_known_id",
]
