"""Athena as a job of the kit: a query started with a ClientRequestToken, described in
batches of 50, stopped, its rows read page by page, its EventBridge events read."""

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import get_args

from service.athena.client import BATCH_LIMIT, AthenaQueries, AthenaState, ExecutionStatus
from service.athena.events import read_state_change
from service.athena.results import Rows, fetch_rows, first_page_size
from service.models import QueryRequest, QueryResult, QueryStatistics
from service.promisify import Meaning, News, Settled, Steps
from service.settings import settings

MEANINGS: dict[str, Meaning] = {
    "QUEUED": "waiting",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}
assert set(MEANINGS) == set(get_args(AthenaState))


class AthenaJob:
    name = "Athena"
    noun = "query"
    batch_limit = BATCH_LIMIT
    initial_state = "QUEUED"
    request_type = QueryRequest
    status_type = ExecutionStatus
    collected_type = Rows
    result_type = QueryResult
    # The names callers of `promise/{id}/status` have always read.
    status_names: Mapping[str, str] = MappingProxyType(
        {
            "subject": "query",
            "job_id": "query_execution_id",
            "job_state": "athena_state",
            "progress": "rows_fetched",
        }
    )

    @functools.cached_property
    def athena(self) -> AthenaQueries:
        """One adapter (and boto3 client) per process, built from the settings."""
        return AthenaQueries(settings())

    def prepare(self, request: QueryRequest) -> QueryRequest:
        if request.max_rows is not None:
            return request
        return request.model_copy(update={"max_rows": settings().default_max_rows})

    def subject(self, request: QueryRequest) -> str:
        return request.query

    def meaning(self, state: str) -> Meaning:
        return MEANINGS.get(state, "waiting")

    async def start(self, request: QueryRequest, token: str) -> str:
        return await self.athena.start(request.query, token)

    async def describe(
        self, job_id: str, news: str | None = None, request: QueryRequest | None = None
    ) -> ExecutionStatus:
        if news == "SUCCEEDED" and request is not None:
            # The common case: the first page is read beside the status, not after it.
            page_size = first_page_size(self._max_rows(request))
            return await self.athena.describe_with_first_page(job_id, page_size)
        return await self.athena.describe(job_id)

    def _max_rows(self, request: QueryRequest) -> int:
        return settings().default_max_rows if request.max_rows is None else request.max_rows

    async def describe_many(self, job_ids: list[str]) -> list[ExecutionStatus]:
        return await self.athena.describe_many(job_ids)

    async def stop(self, job_id: str) -> None:
        await self.athena.stop(job_id)

    async def collect(self, steps: Steps, request: QueryRequest, status: ExecutionStatus) -> Rows:
        return await fetch_rows(steps, self.athena, status, self._max_rows(request))

    def read_event(self, body: bytes) -> News | None:
        return read_state_change(body)

    def result(
        self,
        settled: Settled,
        request: QueryRequest,
        status: ExecutionStatus | None,
        collected: Rows | None,
    ) -> QueryResult:
        rows = collected or Rows()
        return QueryResult(
            invocation_id=settled.invocation_id,
            query_execution_id=settled.job_id,
            query=request.query,
            state=settled.state,
            columns=rows.columns,
            rows=rows.rows,
            row_count=len(rows.rows),
            truncated=rows.truncated,
            output_location=status.output_location if status else None,
            statistics=status.statistics if status else QueryStatistics(),
            error=settled.error,
            submitted_at=status.submitted_at if status else None,
            completed_at=(status.completed_at if status else None) or settled.ended_at,
        )
