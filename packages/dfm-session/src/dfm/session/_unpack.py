"""What a target hands the application: packages decoded under the homesite's policy.

Every target turns what a site routed to the application (a package, or the envelope
bytes it crossed as) into a :class:`Delivery`; this is the one place that does it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dfm.api import DecodePolicy, ErrorInfo, ErrorToken
from dfm.runtime import TokenPackage, site_decode_policy

from ._callbacks import Delivery


def homesite_policy(federation: str, homesite: str, logger: logging.Logger) -> DecodePolicy:
    """The homesite's decode policy (its runtime package); restrictive if it has none."""
    try:
        return site_decode_policy(federation, homesite)
    except ValueError as e:
        logger.debug("No decode policy for homesite %s (%s): the restrictive one", homesite, e)
        return DecodePolicy()


class ApplicationUnpack:
    """Turns what a site sent to the application into a :class:`Delivery`.

    The application decodes yields as its homesite would: a value the homesite's
    policy refuses becomes an ErrorToken naming the homesite, the sender and the rule.

    Args:
        homesite: The application's site.
        policy: The homesite's decode policy.
        read: Turns a target's own item into a package or envelope bytes first (None:
            items are packages or envelope bytes already).
    """

    def __init__(
        self, homesite: str, policy: DecodePolicy, read: Callable[[Any], Any] | None = None
    ) -> None:
        """Keep the policy."""
        self.homesite, self.policy, self._read = homesite, policy, read

    def __call__(self, item: Any) -> Delivery:
        """The delivery of one package or envelope (untrusted bytes).

        Raises:
            ValueError: The bytes are not a token package (the stream fails the job).
        """
        if self._read is not None:
            item = self._read(item)
        package = TokenPackage.from_wire(item) if isinstance(item, bytes) else item
        try:
            data = package.unwrap(self.policy)
        except Exception as e:
            data = ErrorToken(
                errors=[
                    ErrorInfo(
                        type=type(e).__name__,
                        message=(
                            f"The application (homesite {self.homesite!r}) refuses a value "
                            f"from site {package.source_site!r} (node {package.source_node}) "
                            f"for place {package.target_place!r}: {e}"
                        ),
                        node_id=package.source_node,
                        site=self.homesite,
                    )
                ]
            )
        return Delivery(
            package.source_site, package.source_node, package.frame, package.target_place, data
        )
