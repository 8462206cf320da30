"""Athena's calls, on the event loop (`AthenaTransport`), shaped into small models. No Restate."""

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from botocore.exceptions import ClientError
from pydantic import BaseModel

from service.athena.transport import AthenaTransport
from service.models import Column, QueryStatistics
from service.promisify import BatchUnsupported, JobRefused, JobStatus
from service.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_athena.type_defs import (
        GetQueryResultsInputTypeDef,
        QueryExecutionTypeDef,
        StartQueryExecutionInputTypeDef,
    )

AthenaState = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
FinalState = Literal["SUCCEEDED", "FAILED", "CANCELLED"]
FINAL_STATES: frozenset[str] = frozenset(get_args(FinalState))

# Athena answers these when the request itself is wrong or not allowed: retrying cannot help.
PERMANENT_ERROR_CODES = {"InvalidRequestException", "AccessDeniedException", "ValidationException"}
PAGE_LIMIT = 1000
# Athena calls in flight at once per process (its pooled connections): each waits 50-300 ms
# on the network, so a burst or a page-heavy moment must not queue every promise's steps
# behind a handful of calls.
CONCURRENT_CALLS = 32
# BatchGetQueryExecution takes at most 50 ids.
BATCH_LIMIT = 50


# Which permanent Athena errors are the caller's to fix (400) and which are ours (502).
_STATUS_FOR_CODE = {"InvalidRequestException": 400, "ValidationException": 400}
# What an Athena-compatible endpoint answers for an operation it does not implement (moto's
# server: HTTP 500 with NotImplementedError), and what AWS answers for an unknown one.
_NOT_IMPLEMENTED = ("NotImplemented", "UnknownOperation", "InvalidAction")


class AthenaRequestRejected(JobRefused):
    """Athena refused a request for good (bad request, access denied)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(
            f"Athena refused the request ({code}): {message}", _STATUS_FOR_CODE.get(code, 502)
        )
        self.code = code


class ResultPage(BaseModel):
    columns: list[Column]
    rows: list[list[str | None]]
    next_token: str | None = None
    heard_at: float | None = None  # as ExecutionStatus.heard_at


class StartContext(BaseModel):
    """Where and how a query runs: what StartQueryExecution is sent besides the SQL."""

    workgroup: str
    database: str
    catalog: str | None = None  # None: Athena's default catalog, and none is sent
    output_location: str | None = None  # None: the workgroup's
    execution_parameters: list[str] | None = None  # one SQL literal each
    result_reuse_minutes: int | None = None  # None or 0: no reuse


class ExecutionStatus(JobStatus):
    """Athena's word on one execution (`job_id` is its queryExecutionId)."""

    state: AthenaState
    statement_type: str | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    output_location: str | None = None
    statistics: QueryStatistics = QueryStatistics()
    # When it SUCCEEDED and the news said so: the first result page, read beside the status.
    first_page: ResultPage | None = None
    # What it ran with, and how it ended, as Athena reports them.
    workgroup: str | None = None
    catalog: str | None = None
    database: str | None = None
    execution_parameters: list[str] | None = None
    result_reused: bool | None = None
    error_category: int | None = None  # AthenaError: 1 SYSTEM, 2 USER, 3 OTHER
    error_type: int | None = None
    error_retryable: bool | None = None

    @property
    def query_execution_id(self) -> str:
        return self.job_id


def athena_transport(settings: Settings) -> AthenaTransport:
    # It retries throttling a few times itself; the durable step retries beyond that.
    return AthenaTransport(
        settings.aws_region,
        max_connections=CONCURRENT_CALLS,
        max_attempts=3,
        connect_timeout_s=5,
        read_timeout_s=20,
    )


class AthenaQueries:
    def __init__(self, settings: Settings, transport: AthenaTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport or athena_transport(settings)

    async def _call(self, operation: str, params: Any) -> dict[str, Any]:
        """One call; Athena's permanent refusals become AthenaRequestRejected."""
        try:
            return await self._transport.call(operation, dict(params))
        except ClientError as error:
            details = error.response.get("Error", {})
            code = details.get("Code", "")
            if code in PERMANENT_ERROR_CODES:
                raise AthenaRequestRejected(code, details.get("Message", str(error))) from error
            raise

    async def start(
        self, sql: str, client_request_token: str, where: "StartContext | None" = None
    ) -> str:
        where = where or StartContext(
            workgroup=self._settings.athena_workgroup,
            database=self._settings.athena_database,
            output_location=self._settings.athena_output_location,
        )
        params: StartQueryExecutionInputTypeDef = {
            "QueryString": sql,
            "ClientRequestToken": client_request_token,
            "WorkGroup": where.workgroup,
            "QueryExecutionContext": {"Database": where.database},
        }
        if where.catalog:
            params["QueryExecutionContext"]["Catalog"] = where.catalog
        if where.output_location:
            params["ResultConfiguration"] = {"OutputLocation": where.output_location}
        if where.execution_parameters:
            params["ExecutionParameters"] = where.execution_parameters
        if where.result_reuse_minutes:
            params["ResultReuseConfiguration"] = {
                "ResultReuseByAgeConfiguration": {
                    "Enabled": True,
                    "MaxAgeInMinutes": where.result_reuse_minutes,
                }
            }
        response = await self._call("StartQueryExecution", params)
        return response["QueryExecutionId"]

    async def describe(self, query_execution_id: str) -> ExecutionStatus:
        response = await self._call("GetQueryExecution", {"QueryExecutionId": query_execution_id})
        status = _execution_status(cast("QueryExecutionTypeDef", response["QueryExecution"]))
        status.heard_at = time.time()
        return status

    async def describe_with_first_page(
        self, query_execution_id: str, max_results: int
    ) -> ExecutionStatus:
        """The status and the first result page, asked at once: when the news is SUCCEEDED, the
        rows need not wait for the status. The page counts only if the status confirms it; a
        failed page read is left to the row fetch, which retries it on its own."""
        status, page = await asyncio.gather(
            self.describe(query_execution_id),
            self.fetch_page(query_execution_id, None, max_results),
            return_exceptions=True,
        )
        if isinstance(status, BaseException):
            raise status
        if status.state == "SUCCEEDED" and isinstance(page, ResultPage):
            status.first_page = page
        return status

    async def describe_many(self, query_execution_ids: list[str]) -> list[ExecutionStatus]:
        """Up to BATCH_LIMIT executions in one call; ids Athena does not know are left out."""
        ids = query_execution_ids[:BATCH_LIMIT]
        try:
            response = await self._call("BatchGetQueryExecution", {"QueryExecutionIds": ids})
        except ClientError as error:
            if ids and _may_be_unimplemented(error) and await self._describe_works(ids[0]):
                raise BatchUnsupported(f"BatchGetQueryExecution failed: {error}") from error
            raise
        heard_at = time.time()
        executions = cast("list[QueryExecutionTypeDef]", response["QueryExecutions"])
        statuses = [_execution_status(execution) for execution in executions]
        for status in statuses:
            status.heard_at = heard_at
        return statuses

    async def _describe_works(self, query_execution_id: str) -> bool:
        """Whether GetQueryExecution answers where BatchGetQueryExecution did not: then the
        batch call is missing from this endpoint, not the endpoint failing."""
        try:
            await self.describe(query_execution_id)
        except (ClientError, AthenaRequestRejected):
            return False
        return True

    async def fetch_page(
        self, query_execution_id: str, next_token: str | None, max_results: int
    ) -> ResultPage:
        params: GetQueryResultsInputTypeDef = {
            "QueryExecutionId": query_execution_id,
            "MaxResults": max(1, min(PAGE_LIMIT, max_results)),
        }
        if next_token:
            params["NextToken"] = next_token
        response = await self._call("GetQueryResults", params)
        result_set = response["ResultSet"]
        columns = [
            Column(name=info.get("Label") or info["Name"], type=info["Type"])
            for info in result_set["ResultSetMetadata"]["ColumnInfo"]
        ]
        rows = [[datum.get("VarCharValue") for datum in row["Data"]] for row in result_set["Rows"]]
        next_token = response.get("NextToken")
        return ResultPage(columns=columns, rows=rows, next_token=next_token, heard_at=time.time())

    async def output_rows(self, query_execution_id: str) -> int | None:
        """How many rows the query returned, without reading them (GetQueryRuntimeStatistics'
        Rows.OutputRows); None while Athena has not filled it in, or when it never does."""
        response = await self._call(
            "GetQueryRuntimeStatistics", {"QueryExecutionId": query_execution_id}
        )
        rows = response.get("QueryRuntimeStatistics", {}).get("Rows", {})
        count = rows.get("OutputRows")
        return int(count) if count is not None else None

    async def stop(self, query_execution_id: str) -> None:
        await self._call("StopQueryExecution", {"QueryExecutionId": query_execution_id})


def _may_be_unimplemented(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    named = any(mark in code or mark in message for mark in _NOT_IMPLEMENTED)
    return named or status in (500, 501)


def _millis(statistics: Any, key: str) -> int | None:
    value = statistics.get(key)
    return int(value) if value is not None else None


def statistics_of(stats: Any) -> QueryStatistics:
    """Athena's `Statistics` of an execution, in the result's names."""
    return QueryStatistics(
        total_execution_time_ms=_millis(stats, "TotalExecutionTimeInMillis"),
        engine_execution_time_ms=_millis(stats, "EngineExecutionTimeInMillis"),
        queue_time_ms=_millis(stats, "QueryQueueTimeInMillis"),
        planning_time_ms=_millis(stats, "QueryPlanningTimeInMillis"),
        service_processing_time_ms=_millis(stats, "ServiceProcessingTimeInMillis"),
        data_scanned_bytes=_millis(stats, "DataScannedInBytes"),
    )


def _execution_status(execution: "QueryExecutionTypeDef") -> ExecutionStatus:
    status = execution.get("Status", {})
    stats = execution.get("Statistics", {})
    context = execution.get("QueryExecutionContext", {})
    error = status.get("AthenaError", {})
    reuse = stats.get("ResultReuseInformation", {})
    return ExecutionStatus(
        job_id=execution.get("QueryExecutionId", ""),
        state=status.get("State", "QUEUED"),
        reason=status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage"),
        statement_type=execution.get("StatementType"),
        submitted_at=status.get("SubmissionDateTime"),
        completed_at=status.get("CompletionDateTime"),
        output_location=execution.get("ResultConfiguration", {}).get("OutputLocation"),
        statistics=statistics_of(stats),
        workgroup=execution.get("WorkGroup"),
        catalog=context.get("Catalog"),
        database=context.get("Database"),
        execution_parameters=execution.get("ExecutionParameters"),
        result_reused=reuse.get("ReusedPreviousResult"),
        error_category=error.get("ErrorCategory"),
        error_type=error.get("ErrorType"),
        error_retryable=error.get("Retryable"),
    )
