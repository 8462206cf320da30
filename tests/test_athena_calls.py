"""The service's Athena adapter on its own: how many calls it keeps in flight at once."""

import asyncio
import threading
from typing import Any

from service.athena.client import CONCURRENT_CALLS, AthenaQueries
from service.settings import settings

IN_FLIGHT = 20  # more than asyncio's default executor has threads on a small machine


class SlowAthena:
    """Answers GetQueryExecution only once IN_FLIGHT calls wait at the same time, as calls
    do that each wait on a slow network; fewer threads would leave the barrier broken."""

    def __init__(self) -> None:
        self.all_waiting = threading.Barrier(IN_FLIGHT, timeout=10)

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.all_waiting.wait()
        return {"QueryExecution": {"QueryExecutionId": QueryExecutionId, "Status": {}}}


def test_athena_calls_do_not_queue_behind_a_small_default_executor() -> None:
    assert CONCURRENT_CALLS >= IN_FLIGHT
    queries = AthenaQueries(settings(), client=SlowAthena())  # type: ignore[arg-type]

    async def describe_all() -> list[str]:
        ids = [f"query-{n}" for n in range(IN_FLIGHT)]
        statuses = await asyncio.gather(*(queries.describe(one) for one in ids))
        return [status.query_execution_id for status in statuses]

    assert asyncio.run(describe_all()) == [f"query-{n}" for n in range(IN_FLIGHT)]
