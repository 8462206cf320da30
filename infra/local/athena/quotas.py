"""Athena's API rate quotas: a token bucket per kind of call, refilled every second.

Athena's defaults are 20 StartQueryExecution and 100 Get* calls a second per account (with
bursts of as many); beyond that it answers TooManyRequestsException. Off (0) unless asked.
"""

import time

from .config import LocalAthenaConfig


def quota_kind(operation: str) -> str | None:
    if operation == "StartQueryExecution":
        return "start"
    if operation.startswith(("Get", "BatchGet")):
        return "get"
    return None


class RateLimits:
    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}
        self._refilled: dict[str, float] = {}

    def admit(self, operation: str, config: LocalAthenaConfig) -> bool:
        """Take a token for this call, or say it is over the quota."""
        kind = quota_kind(operation)
        rate = {"start": config.start_rate_limit, "get": config.get_rate_limit}.get(kind or "")
        if kind is None or not rate:
            return True
        now = time.monotonic()
        elapsed = now - self._refilled.get(kind, now)
        # A burst of one second's worth, as Athena allows.
        tokens = min(rate, self._tokens.get(kind, rate) + elapsed * rate)
        self._refilled[kind] = now
        if tokens < 1:
            self._tokens[kind] = tokens
            return False
        self._tokens[kind] = tokens - 1
        return True
