"""Latency percentiles, shared by ``outpost fleet`` and the benchmarks so both report the same figure."""

from __future__ import annotations

import statistics


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99, mean and max of durations in seconds, as milliseconds (None when empty)."""
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "n": len(values),
        "p50_ms": round(pick(0.50) * 1000, 1),
        "p95_ms": round(pick(0.95) * 1000, 1),
        "p99_ms": round(pick(0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }
