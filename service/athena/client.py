"""The Athena adapter: boto3 calls in threads, shaped into small models; no Restate here."""

import asyncio
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel

from service.models import Column, QueryStatistics
from service.settings import Settings

# Athena answers these when the request itself is wrong or not allowed: retrying cannot help.
PERMANENT_ERROR_CODES = {"InvalidRequestException", "AccessDeniedException", "ValidationException"}
FINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}
PAGE_LIMIT = 1000


class AthenaRequestRejected(Exception):
    """Athena refused a request for good (bad request, access denied)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"Athena refused the request ({code}): {message}")
        self.code = code


class ExecutionStatus(BaseModel):
    query_execution_id: str
    state: str
    reason: str | None = None
    statement_type: str | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    output_location: str | None = None
    statistics: QueryStatistics = QueryStatistics()

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class ResultPage(BaseModel):
    columns: list[Column]
    rows: list[list[str | None]]
    next_token: str | None = None


class AthenaQueries:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        # botocore retries throttling a few times itself; the durable step retries beyond that.
        self._client = client or boto3.client(
            "athena",
            region_name=settings.aws_region,
            config=Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=20,
            ),
        )

    async def start(self, sql: str, client_request_token: str) -> str:
        params: dict[str, Any] = {
            "QueryString": sql,
            "ClientRequestToken": client_request_token,
            "WorkGroup": self._settings.athena_workgroup,
            "QueryExecutionContext": {"Database": self._settings.athena_database},
        }
        if self._settings.athena_output_location:
            params["ResultConfiguration"] = {
                "OutputLocation": self._settings.athena_output_location
            }
        response = await self._call("start_query_execution", **params)
        return str(response["QueryExecutionId"])

    async def describe(self, query_execution_id: str) -> ExecutionStatus:
        response = await self._call("get_query_execution", QueryExecutionId=query_execution_id)
        return _execution_status(response["QueryExecution"])

    async def fetch_page(
        self, query_execution_id: str, next_token: str | None, max_results: int
    ) -> ResultPage:
        params: dict[str, Any] = {
            "QueryExecutionId": query_execution_id,
            "MaxResults": max(1, min(PAGE_LIMIT, max_results)),
        }
        if next_token:
            params["NextToken"] = next_token
        response = await self._call("get_query_results", **params)
        result_set = response["ResultSet"]
        columns = [
            Column(name=info["Label"] or info["Name"], type=info["Type"])
            for info in result_set["ResultSetMetadata"]["ColumnInfo"]
        ]
        rows = [[datum.get("VarCharValue") for datum in row["Data"]] for row in result_set["Rows"]]
        return ResultPage(columns=columns, rows=rows, next_token=response.get("NextToken"))

    async def stop(self, query_execution_id: str) -> None:
        await self._call("stop_query_execution", QueryExecutionId=query_execution_id)

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(getattr(self._client, operation), **params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in PERMANENT_ERROR_CODES:
                message = error.response.get("Error", {}).get("Message", str(error))
                raise AthenaRequestRejected(code, message) from error
            raise


def _millis(statistics: dict[str, Any], key: str) -> int | None:
    value = statistics.get(key)
    return int(value) if value is not None else None


def _execution_status(execution: dict[str, Any]) -> ExecutionStatus:
    status = execution.get("Status", {})
    stats = execution.get("Statistics", {})
    return ExecutionStatus(
        query_execution_id=execution["QueryExecutionId"],
        state=status.get("State", "QUEUED"),
        reason=status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage"),
        statement_type=execution.get("StatementType"),
        submitted_at=status.get("SubmissionDateTime"),
        completed_at=status.get("CompletionDateTime"),
        output_location=execution.get("ResultConfiguration", {}).get("OutputLocation"),
        statistics=QueryStatistics(
            total_execution_time_ms=_millis(stats, "TotalExecutionTimeInMillis"),
            engine_execution_time_ms=_millis(stats, "EngineExecutionTimeInMillis"),
            queue_time_ms=_millis(stats, "QueryQueueTimeInMillis"),
            planning_time_ms=_millis(stats, "QueryPlanningTimeInMillis"),
            service_processing_time_ms=_millis(stats, "ServiceProcessingTimeInMillis"),
            data_scanned_bytes=_millis(stats, "DataScannedInBytes"),
        ),
    )
