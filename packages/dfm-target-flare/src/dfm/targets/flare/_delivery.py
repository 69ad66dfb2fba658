"""What the application receives from the sites, decoded under its homesite's policy."""

from __future__ import annotations

import logging
from typing import Any

from dfm.api import DecodePolicy, ErrorInfo, ErrorToken
from dfm.runtime import TokenPackage, site_decode_policy
from dfm.session import Delivery


def homesite_policy(federation: str, homesite: str, logger: logging.Logger) -> DecodePolicy:
    """The homesite's decode policy (its runtime package); restrictive if it has none."""
    try:
        return site_decode_policy(federation, homesite)
    except ValueError as e:
        logger.debug("No decode policy for homesite %s (%s): the restrictive one", homesite, e)
        return DecodePolicy()


class ApplicationUnpack:
    """Turns an envelope a site sent to the application into a :class:`Delivery`.

    The application decodes yields as its homesite would: a value the homesite's
    policy refuses becomes an ErrorToken naming the homesite, the sender and the rule.

    Args:
        homesite: The application's site.
        policy: The homesite's decode policy.
    """

    def __init__(self, homesite: str, policy: DecodePolicy) -> None:
        """Keep the policy."""
        self.homesite = homesite
        self.policy = policy

    def __call__(self, item: Any) -> Delivery:
        """The delivery of one envelope (untrusted bytes) or package.

        Raises:
            ValueError: The bytes are not a token package (the stream fails the job).
        """
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
