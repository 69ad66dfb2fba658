"""Benchmark: what `dfm` pays before dispatching (entry-point scan and index)."""

from __future__ import annotations

from typing import Any

from dfm.api import _cli


def test_scan_and_index_subcommands(benchmark: Any) -> None:
    def scan_and_index() -> dict[str, _cli.Subcommand]:
        _cli.scan_subcommands.cache_clear()
        return _cli.index_subcommands(_cli.scan_subcommands())

    benchmark(scan_and_index)


def test_cached_dispatch_lookup(benchmark: Any) -> None:
    _cli.scan_subcommands()
    benchmark(lambda: _cli.index_subcommands(_cli.scan_subcommands()))
