"""The benchmark's latency against load as a PNG: the bare loop, the durable promise and
the same promise on Temporal (benchmarks/temporal_peer).

matplotlib is the `bench` extra's (`make bench` installs it); without it, no chart, a line.
"""

from pathlib import Path

CHART = Path("benchmarks") / "latency-vs-load.png"


def write_chart(series: dict[str, list[tuple[int, float]]], path: Path = CHART) -> str:
    """`series`: for each line, (queries in flight, end-to-end p50 in ms). Returns a sentence."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display here
        import matplotlib.pyplot as plt
    except ImportError:
        return "No chart: matplotlib is not installed (pip install -e '.[bench]')."
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, points in series.items():
        loads, p50s = zip(*sorted(points), strict=True)
        axes.plot(loads, p50s, marker="o", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("queries in flight")
    axes.set_ylabel("end-to-end p50 (ms)")
    axes.set_title("Latency against load (Athena ~1.8 s at 1 and 8 in flight, ~0 s at 100)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"Chart: {path}"
