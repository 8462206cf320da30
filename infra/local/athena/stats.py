"""Call counting for `GET /_local/stats`, so tests can see how a client used the endpoint."""

from collections import Counter
from typing import Any

from .execution import Execution


class CallStats:
    def __init__(self) -> None:
        # Every Athena request received, throttled ones included.
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def report(self, executions: list[Execution]) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "throttled": dict(self.throttled),
            "executions": {
                execution.id: {
                    "state": execution.state,
                    "query": execution.query,
                    "calls": dict(execution.calls),
                    "calls_before_completion": dict(execution.calls_before_completion),
                }
                for execution in executions
            },
        }
