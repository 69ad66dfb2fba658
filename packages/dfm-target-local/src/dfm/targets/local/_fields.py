"""Packages and parameter sets as plain fields, the cheap way across the process channel.

The channel to a site process pickles its messages; a package without binary data
whose value is a scalar (every status token, most yields) crosses as the tuple of its
fields rather than an envelope, whose JSON header would be written on one side and
parsed on the other for nothing (about 4 µs each way). Frames cross as their levels:
a pickled :class:`~dfm.api.Frame` costs about 4 µs to load. Values are still decoded
under the receiver's policy.
"""

from __future__ import annotations

from typing import Any

from dfm.api import Frame
from dfm.runtime import EncodedParams, TokenPackage

# Payload bodies a package may cross with as fields: what pickle and JSON hold alike
# (a container could be nested too deeply to pickle; it goes as an envelope).
_SCALAR_BODIES = frozenset({int, str, bool, float, type(None)})
_STOP = Frame.stop_frame()

PackageFields = tuple[
    str, str, int | str | None, str, str, bool, Any, str, Any, dict[str, str] | None
]
"""A frameless package as it crosses: job_id, source_site, source_node, target_site,
target_place, is_yield, the frame's levels (or ``"stop"``), the payload's tag and body,
trace_context."""


def fields_of(package: TokenPackage) -> PackageFields | None:
    """The package as fields, if it has no binary data and a scalar value (else None)."""
    tag, body = package.payload
    if package.frames or type(body) not in _SCALAR_BODIES:
        return None
    return (
        package.job_id,
        package.source_site,
        package.source_node,
        package.target_site,
        package.target_place,
        package.is_yield,
        package.frame.frame,
        tag,
        body,
        package.trace_context,
    )


def frame_of(levels: Any) -> Frame:
    """The frame of levels that crossed (``Frame.frame``): most are a parameter set's."""
    if type(levels) is tuple and len(levels) == 1:
        return Frame.start_frame(levels[0])  # checks its index; skips the general check
    return _STOP if levels == "stop" else Frame(levels)


def package_of(fields: PackageFields) -> TokenPackage:
    """The package that crossed as fields."""
    job_id, source, node, target, place, is_yield, levels, tag, body, context = fields
    frame = frame_of(levels)
    return TokenPackage(job_id, source, node, target, place, is_yield, frame, (tag, body), context)


def params_to_send(params: EncodedParams) -> list[tuple[Any, dict[str, Any]]]:
    """Parameter sets as they cross: frames as their levels."""
    return [(frame.frame, values) for frame, values in params]


def received_params(sent: list[tuple[Any, dict[str, Any]]]) -> EncodedParams:
    """Parameter sets that crossed, with their frames back."""
    return [(frame_of(levels), values) for levels, values in sent]
