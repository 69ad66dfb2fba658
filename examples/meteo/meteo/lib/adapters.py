"""Adapters of the meteo federation: plain classes with a ``body()`` method.

``LoadReadings`` also has field advisors: a discovery pipeline (``discover.py``) asks
each data site which cities and periods it can serve.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator
from typing import Any

from dfm.api.discovery import AdvisedOneOf, AdvisedValue
from dfm.runtime import AdviceContext, field_advisor


class LoadReadings:
    """Serves the readings of the cities this site holds (synthetic, deterministic)."""

    def __init__(self, site: Any, cities: list[str]) -> None:
        self.site_name = site.site_name
        self.cities = cities

    @field_advisor("city", order=0)
    def advise_city(self, value: Any, context: AdviceContext) -> AdvisedValue:
        """The cities this site holds readings of."""
        return AdvisedOneOf(self.cities)

    @field_advisor("days", order=1)
    def advise_days(self, value: Any, context: AdviceContext) -> AdvisedValue:
        """The periods worth asking for."""
        return AdvisedOneOf([1, 7, 30, 90])

    async def body(self, city: str, days: int = 30) -> list[float]:
        if city not in self.cities:
            raise ValueError(
                f"site {self.site_name} has no readings for {city!r}; it holds {self.cities}"
            )
        await asyncio.sleep(0)  # a real adapter would await its storage here
        rng = random.Random(city)
        base = 4.0 if self.site_name == "north" else 19.0
        return [
            round(base + 8 * math.sin(h / 24 * 2 * math.pi) + rng.gauss(0, 2), 2)
            for h in range(days * 24)
        ]


class Cities:
    """Lists the cities this site holds, as a generator: a ForEach over it streams."""

    def __init__(self, cities: list[str]) -> None:
        self.cities = cities

    def body(self) -> Iterator[str]:
        yield from self.cities


class Summarize:
    """Count, mean, min and max of a series."""

    async def body(self, readings: list[float]) -> dict[str, float]:
        return {
            "count": len(readings),
            "mean": sum(readings) / len(readings),
            "min": min(readings),
            "max": max(readings),
        }


class Merge:
    """Combines two summaries."""

    async def body(self, first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
        count = first["count"] + second["count"]
        mean = (first["mean"] * first["count"] + second["mean"] * second["count"]) / count
        return {
            "count": count,
            "mean": mean,
            "min": min(first["min"], second["min"]),
            "max": max(first["max"], second["max"]),
        }


class Format:
    """Formats a summary as one line (a synchronous adapter: it runs off the event loop)."""

    def body(self, summary: dict[str, float], site_name: str, title: str = "Temperatures") -> str:
        return (
            f"{title}: {int(summary['count'])} readings, mean {summary['mean']:.1f} °C, "
            f"range {summary['min']:.1f} to {summary['max']:.1f} °C (formatted on {site_name})"
        )
