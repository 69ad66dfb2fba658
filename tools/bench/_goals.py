"""Goals of the benchmarks: each number is printed beside its goal; a miss fails the run."""

from __future__ import annotations


class Goals:
    """Collects the measurements of one benchmark script and whether each met its goal."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def report(self, name: str, value: float, unit: str, goal: str, ok: bool) -> None:
        """Print one measurement with its goal (``goal="-"``: for comparison only)."""
        verdict = "ok" if ok else "MISSED"
        print(f"{name:<60} {value:>12,.2f} {unit:<8} goal {goal:<12} {verdict}", flush=True)
        if not ok:
            self.missed.append(name)

    def exit_code(self) -> int:
        """0 if every goal was met; else 1, after listing the misses."""
        if self.missed:
            print(f"MISSED {len(self.missed)} goal(s): " + "; ".join(self.missed), flush=True)
            return 1
        return 0
