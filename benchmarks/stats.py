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


def print_table(title: str, headers: list[str], rows: list[list[str]], footnote: str) -> None:
    """A title, aligned columns (names left, figures right), and what the figures mean."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    print(f"\n{title}")
    for name, *cells in [headers, *rows]:
        figures = (cell.rjust(width) for cell, width in zip(cells, widths[1:], strict=True))
        print(name.ljust(widths[0]), *figures, sep="  ")
    print(footnote)
