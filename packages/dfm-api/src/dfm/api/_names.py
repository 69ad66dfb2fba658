"""Reserved place names and the rules for user place names."""

from __future__ import annotations

import keyword

STATUS_PLACE_NAME = "_dfm_status_"
DISCOVERY_PLACE_NAME = "_dfm_discovery_"
START_PLACE_NAME = "__start_place__"
TELEMETRY_PLACE_NAME = "__telemetry__"
DEFAULT_YIELD_PLACE = "yield"


def check_user_place_name(place: str, what: str) -> str:
    """Validate a place name given by a user in a Yield or PlaceParam.

    Raises:
        ValueError: naming the place and the rule it breaks.
    """
    if not place.isidentifier() or (keyword.iskeyword(place) and place != DEFAULT_YIELD_PLACE):
        raise ValueError(
            f"{what} place {place!r} is not allowed: a place name must be a Python identifier "
            "(letters, digits, underscores; not starting with a digit) and not a keyword"
        )
    if place.startswith("_dfm") or place.startswith("__"):
        raise ValueError(
            f"{what} place {place!r} is not allowed: names starting with '_dfm' or '__' are "
            "reserved for DFM"
        )
    return place
