"""DfmContext: one site's view of a job, and the one way tokens leave a transition."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from dfm.api import (
    TRUSTED,
    DecodePolicy,
    ErrorInfo,
    ErrorToken,
    FlowInfo,
    Frame,
    SkipToken,
    StopToken,
    describe_node,
    encode_value,
)

from . import _telemetry
from ._package import Router, TokenPackage
from ._payload import encode_payload

_NO_FRAMES: tuple[Any, ...] = ()

FLOW = FlowInfo()
"""The control token of an ordinary jump (shared: FlowInfo is immutable)."""

STOP_TOKEN = StopToken()
"""The token that tells the application a frame (or, with the stop frame, the job) ended."""

SKIP = SkipToken()
"""The token that stands for the values of a skipped block (a false If, a cache hit)."""

# Constant tokens are encoded once: encoding a model costs more than the rest of a send.
_CONSTANT_PAYLOADS: dict[int, tuple[str, Any]] = {
    id(FLOW): encode_value(FLOW),
    id(STOP_TOKEN): encode_value(STOP_TOKEN),
    id(SKIP): encode_value(SKIP),
}


def select(value: Any, sel: int | str, issubs: bool | None = None) -> Any:
    """One item or field of a value, as ``op.fieldref(sel, issubs)`` asks.

    Args:
        value: The value to select from.
        sel: The key, index or attribute name.
        issubs: True: ``value[sel]``; False: ``getattr(value, sel)``; None: subscript if
            the value is a mapping, list or tuple, else attribute.
    """
    if issubs is None:
        issubs = isinstance(value, (dict, list, tuple, Mapping))
    if issubs:
        return value[sel]
    return getattr(value, sel)  # type: ignore[arg-type]  # an int sel fails here, as it should


def error_token(
    kind: str,
    message: str,
    error: BaseException | None,
    node_id: int | str | None,
    site: str | None,
    operation: str | None = None,
) -> ErrorToken:
    """An ErrorToken with a message of our own and, if given, the cause's traceback.

    ``operation`` is the failed operation's API name or the block's kind (``ForEach``).
    """
    trace = ""
    if error is not None:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    info = ErrorInfo(
        type=kind,
        message=message,
        stack_trace=trace,
        node_id=node_id,
        site=site,
        operation=operation,
    )
    return ErrorToken(errors=[info])


class DfmContext:
    """What the runtime knows about the job on this site, and how it sends tokens.

    Args:
        job_id: The job.
        federation_name: The federation (its code package name).
        homesite: The site of the application.
        this_site: This site.
        api_version: The federation API version the pipeline was built with.
        router: Carries tokens to other sites and to the application.
        logger: Where the runtime logs for this job.
        decode_policy: What this site accepts from other sites.
    """

    __slots__ = (
        "job_id",
        "federation_name",
        "homesite",
        "this_site",
        "api_version",
        "router",
        "logger",
        "decode_policy",
        "_operations",
        "_deliver",
        "_closed",
    )

    def __init__(
        self,
        job_id: str,
        federation_name: str,
        homesite: str,
        this_site: str,
        api_version: str,
        router: Router,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        decode_policy: DecodePolicy = TRUSTED,
    ) -> None:
        """Create the context; a NetRunner attaches itself for same-site delivery."""
        self.job_id = job_id
        self.federation_name = federation_name
        self.homesite = homesite
        self.this_site = this_site
        self.api_version = api_version
        self.router = router
        self.logger = logger if logger is not None else logging.getLogger("dfm.runtime")
        self.decode_policy = decode_policy
        self._deliver: Callable[[str, Frame, Any], None] | None = None
        self._operations: Mapping[int | str, str] = {}
        self._closed = False

    def _attach(
        self,
        deliver: Callable[[str, Frame, Any], None],
        operations: Mapping[int | str, str] | None = None,
    ) -> None:
        if self._deliver is not None:
            raise RuntimeError(f"The DfmContext of site {self.this_site!r} already has a runner")
        self._deliver = deliver
        self._operations = operations or {}

    def _operation(self, node_id: int | str | None) -> str | None:
        # Only for messages: the API name of the node's operation, if the net names it.
        return None if node_id is None else self._operations.get(node_id)

    def _close(self) -> None:
        self._closed = True

    def _detach(self) -> None:
        # The finished runner lets go of the context (which then holds nothing of it).
        self._deliver = None

    def send(
        self,
        to_site: str,
        place: str,
        frame: Frame,
        value: Any,
        *,
        is_yield: bool = False,
        node_id: int | str | None = None,
        sel: int | str | None = None,
        issubs: bool | None = None,
    ) -> ErrorToken | None:
        """Send a token to a place of a site, or (``is_yield``) to the application.

        Applies ``sel`` first. A token for a place of this site is delivered directly, by
        reference; anything else is encoded and routed. Never raises: a value that cannot
        be selected or encoded becomes an ErrorToken for this one target. Sends after the
        runner finished (or was cancelled) are dropped.

        Returns:
            The ErrorToken sent in place of a value that could not be selected or
            encoded, else None.
        """
        if self._closed:
            return None
        failed: ErrorToken | None = None
        if sel is not None and not isinstance(value, ErrorToken):
            try:
                value = select(value, sel, issubs)
            except Exception as e:
                how = "item" if issubs else "attribute" if issubs is False else "item or attribute"
                operation = self._operation(node_id)
                value = failed = error_token(
                    "SelectionError",
                    f"Cannot select {how} {sel!r} of the value of "
                    f"{describe_node(operation, node_id)} (a {type(value).__name__}) for place "
                    f"{place!r}: {type(e).__name__}: {e}",
                    e,
                    node_id,
                    self.this_site,
                    operation,
                )
        if not is_yield and to_site == self.this_site:
            deliver = self._deliver
            if deliver is None:
                self.logger.error("Site %s has no runner; dropped a token for %s", to_site, place)
                return failed
            deliver(place, frame, value)
            return failed
        payload = _CONSTANT_PAYLOADS.get(id(value))
        frames = _NO_FRAMES
        if payload is None:
            try:
                payload, frames = encode_payload(value)
            except Exception as e:
                operation = self._operation(node_id)
                failed = error_token(
                    "SerializationError",
                    f"The value of {describe_node(operation, node_id)} for place {place!r} on "
                    f"site {to_site!r} cannot be sent: {e}",
                    e,
                    node_id,
                    self.this_site,
                    operation,
                )
                payload = encode_value(failed)
        package = TokenPackage(
            self.job_id,
            self.this_site,
            node_id,
            to_site,
            place,
            is_yield,
            frame,
            payload,
            None,
            frames,
        )
        if _telemetry.ENABLED:
            _telemetry.on_send(self, package)
        try:
            self.router.route(package)
        except Exception:
            self._route_failed(package)
        return failed

    def send_encoded(
        self,
        to_site: str,
        place: str,
        frame: Frame,
        payload: tuple[str, Any],
        *,
        node_id: int | str | None = None,
    ) -> None:
        """Send a value already in tagged form to a place of another site.

        For values the runtime encodes itself (a fan-out's element batches, each element
        in its own tagged form). Never raises; nothing is sent after the runner finished.
        """
        if self._closed:
            return
        package = TokenPackage(
            self.job_id, self.this_site, node_id, to_site, place, False, frame, payload
        )
        if _telemetry.ENABLED:
            _telemetry.on_send(self, package)
        try:
            self.router.route(package)
        except Exception:
            self._route_failed(package)

    def _route_failed(self, package: TokenPackage) -> None:
        self.logger.exception(
            "The router failed to route a token of job %s from %s to %s/%s (frame %s)",
            self.job_id,
            self.this_site,
            package.target_site,
            package.target_place,
            package.frame,
        )
