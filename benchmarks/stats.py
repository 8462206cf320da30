"""Percentiles and a table, nothing more."""

import math


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values_s: list[float]) -> str:
    p50, p95, p99 = (percentile(values_s, p) * 1000 for p in (50, 95, 99))
    return f"{p50:7.0f} {p95:7.0f} {p99:7.0f}"


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan
