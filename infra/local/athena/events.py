"""EventBridge-shaped "Athena Query State Change" events, POSTed to a configured URL.

Sending never holds up a query: each event is its own task, chained behind the previous
event of the same query so that one query's events arrive in order. Retries: delivery.py.
"""

import asyncio
import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp

from .config import LocalAthenaConfig
from .delivery import EventDelivery
from .execution import Execution

log = logging.getLogger(__name__)

ACCOUNT = "123456789012"
# How long shutdown waits for events on their way (not for those waiting to retry).
CLOSE_GRACE_S = 2.0


def state_change_event(execution: Execution, previous: str | None, region: str) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "versionId": "0",
        "currentState": execution.state,
        "statementType": execution.statement_type,
        "queryExecutionId": execution.id,
        "workgroupName": execution.work_group,
        "sequenceNumber": str(execution.event_sequence),
    }
    if previous is not None:
        detail["previousState"] = previous
    return eventbridge_envelope(detail, region)


def eventbridge_envelope(detail: dict[str, Any], region: str) -> dict[str, Any]:
    """What EventBridge wraps an "Athena Query State Change" detail in."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Athena Query State Change",
        "source": "aws.athena",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": detail,
    }


class EventPublisher:
    def __init__(self, config: LocalAthenaConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self.delivery = EventDelivery(config, session)
        self._in_flight: set[asyncio.Task[None]] = set()
        # The last send of each unfinished query, which its next event waits for.
        self._last_send: dict[str, asyncio.Task[None]] = {}

    def state_changed(self, execution: Execution, previous: str | None) -> None:
        execution.event_sequence += 1
        if execution.is_final:
            before = self._last_send.pop(execution.id, None)
        else:
            before = self._last_send.get(execution.id)
        url = self._config.events_url
        if url is None or not self._wanted(execution.state):
            return
        url = url.replace("{queryExecutionId}", execution.id)
        if execution.hints.drop_events or random.random() < self._config.drop_events_rate:
            log.info("dropping the %s event of %s as configured", execution.state, execution.id)
            return
        event = state_change_event(execution, previous, self._config.region)
        task = asyncio.create_task(self._send_after(before, url, event))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        if not execution.is_final:
            self._last_send[execution.id] = task

    def _wanted(self, state: str) -> bool:
        """As a rule's event pattern filters `detail.currentState`."""
        wanted = [name.strip() for name in self._config.events_states.split(",") if name.strip()]
        return not wanted or state in wanted

    async def _send_after(
        self, before: asyncio.Task[None] | None, url: str, event: dict[str, Any]
    ) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        await self.delivery.send(url, event)

    async def drain(self) -> None:
        """Wait for every event in flight to be delivered or given up on."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def close(self) -> None:
        """Give events on their way a moment to arrive; events waiting to retry are dropped,
        so a receiver that is down cannot hold up the shutdown."""
        deadline = time.monotonic() + CLOSE_GRACE_S
        while time.monotonic() < deadline and self._in_flight - self.delivery.backing_off:
            await asyncio.sleep(0.02)
        pending = list(self._in_flight)
        if pending:
            log.info("shutting down: %d event(s) not delivered", len(pending))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
