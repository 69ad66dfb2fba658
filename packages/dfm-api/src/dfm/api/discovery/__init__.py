"""Discovery advice: what sites say about the parameters of a pipeline's operations.

Run a pipeline built with ``Pipeline(mode="discovery")``, with ``Advise()`` for the
parameters to be advised; every site that offers an operation yields, to the place
``_dfm_discovery_``, a list ``[(node_id, advice), …]`` (a :class:`dfm.api.NodeId` and
a :class:`FieldAdvice` or None) for the operations it offers::

    advice = dict(data)[op.dfm_node_id]          # in the discovery callback
    if advice is not None and advice.has_good_options():
        colors = list(advice)                    # the good values of the first field
        sizes = advice.select("red")             # the advice once color is "red"

Advisors (``dfm.runtime.field_advisor``) return the advised values defined here.
Everything here is a pydantic model that round-trips through JSON; values inside
advice (literals, one-of values, branch values) are best kept to JSON values (str,
numbers, bools, None, lists, str-keyed dicts), since tuples come back as lists.
"""

from ._advised import (
    AdvisedDateRange,
    AdvisedDict,
    AdvisedError,
    AdvisedLiteral,
    AdvisedOneOf,
    AdvisedSubsetOf,
    AdvisedValue,
    AnyAdvisedValue,
    Okay,
)
from ._field_advice import (
    AnyFieldAdvice,
    BranchFieldAdvice,
    ErrorFieldAdvice,
    FieldAdvice,
    PartialFieldAdvice,
    SingleFieldAdvice,
)

__all__ = [
    "AdvisedDateRange",
    "AdvisedDict",
    "AdvisedError",
    "AdvisedLiteral",
    "AdvisedOneOf",
    "AdvisedSubsetOf",
    "AdvisedValue",
    "AnyAdvisedValue",
    "AnyFieldAdvice",
    "BranchFieldAdvice",
    "ErrorFieldAdvice",
    "FieldAdvice",
    "Okay",
    "PartialFieldAdvice",
    "SingleFieldAdvice",
]
