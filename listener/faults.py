"""Failing on purpose, for tests of the sender's retries, and counting what the sender tried."""

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultPlan:
    """Statuses to answer on POST /callback before handling requests normally.

    `FaultPlan.first(2, 500)` fails twice and then stores; `FaultPlan.forever(410)` never
    stores. A faulted request is answered without verifying or storing anything.
    """

    statuses: deque[int] = field(default_factory=deque)
    forever_status: int | None = None
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        for status in [*self.statuses, self.forever_status]:
            if status is not None and not 200 <= status <= 599:
                raise ValueError(f"fault status {status} is not an HTTP status from 200 to 599")

    @classmethod
    def first(cls, count: int, status: int = 500, retry_after_s: int | None = None) -> "FaultPlan":
        return cls(deque([status] * count), retry_after_s=retry_after_s)

    @classmethod
    def sequence(cls, statuses: Iterable[int], retry_after_s: int | None = None) -> "FaultPlan":
        return cls(deque(statuses), retry_after_s=retry_after_s)

    @classmethod
    def forever(cls, status: int, retry_after_s: int | None = None) -> "FaultPlan":
        return cls(forever_status=status, retry_after_s=retry_after_s)

    def next_fault(self) -> int | None:
        """The status to fail this request with, or None to handle it normally."""
        if self.statuses:
            return self.statuses.popleft()
        return self.forever_status


@dataclass
class CallbackStats:
    """Every answer POST /callback gave, faults included, so tests can count the attempts;
    and how many webhook-ids were stored for the first time, so a benchmark can tell that its
    last push landed with one request rather than one per webhook."""

    by_status: Counter[int] = field(default_factory=Counter)
    stored: int = 0

    def count(self, status: int) -> None:
        self.by_status[status] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.by_status.total(),
            "by_status": {str(status): n for status, n in sorted(self.by_status.items())},
            "stored": self.stored,
        }
