"""Call counting for `GET /_local/stats`, so tests can see how a client used the endpoint."""

from collections import Counter
from collections.abc import Iterable
from typing import Any

from .execution import Execution


class CallStats:
    def __init__(self) -> None:
        # Every Athena request received, throttled ones included.
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def report(
        self, executions: list[Execution], events_given_up: Iterable[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        return {
            # EventBridge's dead-letter queue: events whose retry window closed, or refused.
            "events_given_up": list(events_given_up),
            "calls": dict(self.calls),
            "throttled": dict(self.throttled),
            "executions": {
                execution.id: {
                    "state": execution.state,
                    "query": execution.query,
                    "calls": dict(execution.calls),
                    "calls_before_completion": dict(execution.calls_before_completion),
                    "work_group": execution.work_group,
                    "context": execution.context,
                    "execution_parameters": execution.execution_parameters,
                    "reused_from": execution.reused_from.id if execution.reused_from else None,
                }
                for execution in executions
            },
        }
