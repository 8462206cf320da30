"""Deliver one event the way EventBridge delivers to an API destination.

EventBridge retries a failed delivery with exponential backoff for up to 24 hours (then the
event goes to a dead-letter queue); it retries 5xx and a few 4xx (401, 407, 409, 429) and
gives up at once on other answers. Here the window and the longest wait are settings, and
the dead-letter queue is a list that `GET /_local/stats` shows.
"""

import asyncio
import logging
import random
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import aiohttp

from .config import LocalAthenaConfig

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.1
# 408 too: a receiver that timed out is worth another try.
RETRY_STATUSES = frozenset({401, 407, 408, 409, 429})
# The dead-letter list keeps the latest ones only, so a long outage cannot exhaust memory.
GIVEN_UP_KEPT = 1000


def backoff_s(attempt: int, cap_s: float) -> float:
    """Exponential from FIRST_BACKOFF_S, capped, with jitter so retries do not march together."""
    exponential = FIRST_BACKOFF_S * 2 ** min(attempt - 1, 40)
    return min(exponential, cap_s) * random.uniform(0.5, 1.0)


class EventDelivery:
    def __init__(self, config: LocalAthenaConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session
        self.given_up: deque[dict[str, Any]] = deque(maxlen=GIVEN_UP_KEPT)
        # Tasks asleep between attempts: shutdown cancels them without waiting.
        self.backing_off: set[asyncio.Task[Any]] = set()

    async def send(self, url: str, event: dict[str, Any]) -> None:
        deadline = time.monotonic() + self._config.events_retry_window_s
        attempt = 0
        while True:
            attempt += 1
            retry, problem = await self._attempt(url, event)
            if problem is None:
                return
            wait = backoff_s(attempt, self._config.events_max_backoff_s)
            if not retry or time.monotonic() + wait > deadline:
                break
            await self._sleep(wait)
        self._give_up(url, event, attempt, problem)

    async def _attempt(self, url: str, event: dict[str, Any]) -> tuple[bool, str | None]:
        """(worth retrying, what went wrong), or (False, None) when delivered."""
        timeout = aiohttp.ClientTimeout(total=5)
        try:
            async with self._session.post(url, json=event, timeout=timeout) as response:
                if response.status < 300:
                    return False, None
                problem = f"HTTP {response.status}"
                return response.status >= 500 or response.status in RETRY_STATUSES, problem
        except (aiohttp.ClientError, TimeoutError) as error:
            return True, repr(error)

    async def _sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.backing_off.add(task)
        try:
            await asyncio.sleep(seconds)
        finally:
            if task is not None:
                self.backing_off.discard(task)

    def _give_up(self, url: str, event: dict[str, Any], attempts: int, problem: str) -> None:
        detail = event["detail"]
        log.warning(
            "gave up on the %s event of %s after %d attempts to %s: %s",
            detail["currentState"],
            detail["queryExecutionId"],
            attempts,
            url,
            problem,
        )
        self.given_up.append(
            {
                "eventId": event["id"],
                "queryExecutionId": detail["queryExecutionId"],
                "currentState": detail["currentState"],
                "url": url,
                "attempts": attempts,
                "lastError": problem,
                "gaveUpAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
        )
