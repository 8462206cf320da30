"""Cost per query on Lambda, from two `GET /_local/stats` snapshots taken around a run.

Lambda bills each invocation (a request) and its duration rounded up to the next
millisecond, times the memory configured. The endpoint records both, so the figures per query
are differences of its counters divided by the number of queries. Init time of cold starts is
reported apart: how it is billed depends on the runtime and the date (AWS bills the init phase
of managed runtimes since August 2025), and a warm fleet seldom pays it.
"""

from dataclasses import dataclass
from typing import Any

# Public on-demand prices in us-east-1 (first tier), USD: per request, and per GB-second.
PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_S = {"arm64": 0.0000133334, "x86_64": 0.0000166667}


@dataclass(frozen=True)
class LambdaCost:
    queries: int
    invocations_per_query: float
    billed_ms_per_query: float
    init_ms_per_query: float
    throttles: int
    errors: int
    memory_mb: int = 512
    architecture: str = "arm64"

    @property
    def usd_per_1000_queries(self) -> float:
        """Requests plus billed GB-seconds (init excluded), for 1000 queries."""
        gb_s = self.billed_ms_per_query / 1000 * self.memory_mb / 1024
        per_query = (
            self.invocations_per_query * PRICE_PER_REQUEST
            + gb_s * PRICE_PER_GB_S[self.architecture]
        )
        return per_query * 1000

    def row(self) -> str:
        """One line for the benchmark's table."""
        return (
            f"lambda: {self.invocations_per_query:.1f} invocations/query, "
            f"{self.billed_ms_per_query:.0f} billed ms/query "
            f"(+{self.init_ms_per_query:.0f} ms init), "
            f"${self.usd_per_1000_queries:.4f} per 1000 queries at {self.memory_mb} MB "
            f"{self.architecture}; {self.throttles} throttled, {self.errors} errors"
        )


def lambda_cost(
    before: dict[str, Any],
    after: dict[str, Any],
    queries: int,
    memory_mb: int = 512,
    architecture: str = "arm64",
) -> LambdaCost:
    """The cost per query of the `queries` run between the two snapshots."""
    if queries < 1:
        raise ValueError("queries must be at least 1")

    def delta(name: str) -> float:
        return float(after[name]) - float(before[name])

    return LambdaCost(
        queries=queries,
        invocations_per_query=delta("invocations") / queries,
        billed_ms_per_query=delta("billed_ms") / queries,
        init_ms_per_query=delta("init_ms") / queries,
        throttles=int(delta("throttles")),
        errors=int(delta("errors")),
        memory_mb=memory_mb,
        architecture=architecture,
    )
