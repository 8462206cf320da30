"""Athena as a job of the kit: a query started with a ClientRequestToken, described in
batches of 50, stopped, its rows read page by page, its EventBridge events read."""

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, get_args

from service.athena.allowed import check_allowed
from service.athena.client import (
    BATCH_LIMIT,
    AthenaQueries,
    AthenaState,
    ExecutionStatus,
    StartContext,
)
from service.athena.events import read_state_change
from service.athena.links import LinkedResult, ResultLinks
from service.athena.results import Rows, fetch_rows, first_page_size
from service.athena.telemetry import outcome_of
from service.models import ErrorCategory, QueryRequest, QueryResult, QueryStatistics
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
# AthenaError.ErrorCategory, as Athena's API reference numbers them.
ERROR_CATEGORIES: dict[int, ErrorCategory] = {1: "SYSTEM", 2: "USER", 3: "OTHER"}


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

    @functools.cached_property
    def links(self) -> ResultLinks:
        return ResultLinks(settings(), self.athena)

    def prepare(self, request: QueryRequest) -> QueryRequest:
        """The request checked against the operator's allow-lists (a refusal is a 400 naming
        the field, and nothing starts), with the defaults filled in: journaled in the plan, so a
        redeploy with other defaults cannot change where a running query's replay looks."""
        current = settings()
        check_allowed(request, current)
        defaults = {
            "max_rows": current.default_max_rows,
            "catalog": current.athena_catalog,
            "database": current.athena_database,
            "workgroup": current.athena_workgroup,
            "output_location": current.athena_output_location,
            "result_reuse_minutes": current.athena_result_reuse_minutes or None,
        }
        missing = {
            name: value
            for name, value in defaults.items()
            if getattr(request, name) is None and value is not None
        }
        # The operator's size for results by link caps the request's: a request may lower it.
        above, asked = current.athena_result_link_above_bytes, request.result_link_above_bytes
        if above is not None and (asked is None or asked > above):
            missing["result_link_above_bytes"] = above
        return request.model_copy(update=missing) if missing else request

    def subject(self, request: QueryRequest) -> str:
        return request.query

    def meaning(self, state: str) -> Meaning:
        return MEANINGS.get(state, "waiting")

    async def start(self, request: QueryRequest, token: str) -> str:
        return await self.athena.start(request.query, token, self._start_context(request))

    def _start_context(self, request: QueryRequest) -> StartContext:
        # A request planned before these fields existed has None: the settings, as then.
        current = settings()
        return StartContext(
            workgroup=request.workgroup or current.athena_workgroup,
            database=request.database or current.athena_database,
            catalog=request.catalog,
            output_location=request.output_location or current.athena_output_location,
            execution_parameters=request.execution_parameters,
            result_reuse_minutes=request.result_reuse_minutes,
        )

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
        by_link = request.result_by == "link"
        maybe = by_link or request.result_link_above_bytes is not None
        if maybe and status.output_location and status.statement_type == "DML":
            # One step: the file's size, and if it goes by link, its columns, row count and a
            # presigned URL, journaled, so a replay (and the push) carries the very same link.
            linked = await steps.run(
                "link result file",
                self.links.link,
                status,
                by_link,
                request.result_link_above_bytes,
                result=LinkedResult,
            )
            if linked.link is not None:
                return Rows(
                    columns=linked.columns,
                    link=linked.link,
                    linked_rows=linked.row_count,
                    heard_at=linked.heard_at,
                )
        return await fetch_rows(steps, self.athena, status, self._max_rows(request))

    def read_event(self, body: bytes) -> News | None:
        return read_state_change(body)

    def outcome_of(self, error: BaseException) -> str | None:
        """How the kit's metrics name a failed call: Athena's throttling apart."""
        return outcome_of(error)

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
            row_count=rows.count(),
            truncated=rows.truncated,
            output_location=status.output_location if status else None,
            statistics=status.statistics if status else QueryStatistics(),
            error=settled.error,
            submitted_at=status.submitted_at if status else None,
            completed_at=(status.completed_at if status else None) or settled.ended_at,
            **_ran_with(request, status),
            **_athena_error(settled, status),
            result_link=rows.link,
        )


def _ran_with(request: QueryRequest, status: ExecutionStatus | None) -> dict[str, Any]:
    """Where the execution ran, as Athena reports it; the request's where Athena said nothing
    (a query it never started)."""
    known = status or ExecutionStatus(job_id="", state="QUEUED")
    return {
        "catalog": known.catalog or request.catalog,
        "database": known.database or request.database,
        "workgroup": known.workgroup or request.workgroup,
        "parameters": request.parameters,
        "result_reused": known.result_reused,
    }


def _athena_error(settled: Settled, status: ExecutionStatus | None) -> dict[str, Any]:
    """Athena's AthenaError, when Athena itself failed the query (not a deadline or a cancel)."""
    if settled.state != "FAILED" or status is None or status.state != "FAILED":
        return {}
    category = status.error_category
    return {
        "error_category": ERROR_CATEGORIES.get(category) if category is not None else None,
        "error_type": status.error_type,
        "error_retryable": status.error_retryable,
    }
