"""What ran, for `GET /_local/stats`: counters per function, and the invocations in flight."""

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FunctionStats:
    invocations: int = 0  # calls that reached a worker, whatever their ending
    errors: int = 0  # ended with X-Amz-Function-Error (a raised error, a timeout, a crash)
    timeouts: int = 0
    crashes: int = 0  # the worker process died mid-invocation
    throttles: int = 0  # refused with 429 TooManyRequestsException, no worker used
    cold_starts: int = 0  # invocations that first had to start (init) a worker
    init_ms: float = 0.0
    duration_ms: float = 0.0  # handler run time, as measured in the worker
    # Lambda bills each invocation's duration rounded up to the next millisecond.
    billed_ms: int = 0
    peak_concurrency: int = 0

    def record(self, duration_ms: float) -> int:
        billed = max(1, math.ceil(duration_ms))
        self.invocations += 1
        self.duration_ms += duration_ms
        self.billed_ms += billed
        return billed


@dataclass
class InFlight:
    """One running invocation: which worker runs which Restate request."""

    request_id: str
    function: str
    path: str
    worker_pid: int | None = None
    started: float = field(default_factory=time.monotonic)

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "function": self.function,
            "path": self.path,
            "worker_pid": self.worker_pid,
            "elapsed_ms": round((time.monotonic() - self.started) * 1000, 1),
        }


def report(functions: dict[str, FunctionStats], in_flight: list[InFlight]) -> dict[str, Any]:
    """Totals over every function, the per-function counters, and what runs right now."""
    totals = FunctionStats()
    for stats in functions.values():
        for name, value in asdict(stats).items():
            if name != "peak_concurrency":
                setattr(totals, name, getattr(totals, name) + value)
        totals.peak_concurrency = max(totals.peak_concurrency, stats.peak_concurrency)
    return {
        **asdict(totals),
        "functions": {name: asdict(stats) for name, stats in functions.items()},
        "in_flight": len(in_flight),
        "running": [invocation.as_json() for invocation in in_flight],
    }
