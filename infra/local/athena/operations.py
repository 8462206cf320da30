"""Athena's query operations, each taking the request body and returning the response body."""

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .engine import QueryEngine
from .execution import Execution
from .executions import Executions
from .listings import LISTINGS
from .protocol import (
    BatchGetQueryExecutionRequest,
    GetQueryResultsRequest,
    QueryExecutionIdRequest,
    StartQueryExecutionRequest,
    invalid_request,
    parse_request,
)
from .rendering import row_data
from .shapes import query_execution, statistics


@dataclass
class Athena:
    """What the operations act on."""

    executions: Executions
    engine: QueryEngine


async def start_query_execution(athena: Athena, body: dict[str, Any]) -> dict[str, Any]:
    execution, new = athena.executions.start(parse_request(StartQueryExecutionRequest, body))
    if new and execution.hints.finish_before_reply:
        # Test hook: the query ends, and its events are delivered, before the caller learns its id.
        await athena.executions.settle(execution)
    return {"QueryExecutionId": execution.id}


def _named(athena: Athena, body: dict[str, Any], operation: str) -> Execution:
    request = parse_request(QueryExecutionIdRequest, body)
    execution = athena.executions.get(request.query_execution_id)
    execution.record_call(operation)
    return execution


async def get_query_execution(athena: Athena, body: dict[str, Any]) -> dict[str, Any]:
    return {"QueryExecution": query_execution(_named(athena, body, "GetQueryExecution"))}


async def batch_get_query_execution(athena: Athena, body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(BatchGetQueryExecutionRequest, body)
    found, unprocessed = [], []
    for execution_id in request.query_execution_ids:
        execution = athena.executions.find(execution_id)
        if execution is None:
            message = f"QueryExecution {execution_id} was not found"
            unprocessed.append(
                {
                    "QueryExecutionId": execution_id,
                    "ErrorCode": "INVALID_INPUT",
                    "ErrorMessage": message,
                }
            )
            continue
        execution.record_call("BatchGetQueryExecution")
        found.append(query_execution(execution))
    return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed}


async def stop_query_execution(athena: Athena, body: dict[str, Any]) -> dict[str, Any]:
    athena.executions.stop(_named(athena, body, "StopQueryExecution"))
    return {}


async def get_query_results(athena: Athena, body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(GetQueryResultsRequest, body)
    execution = athena.executions.get(request.query_execution_id)
    execution.record_call("GetQueryResults")
    if not execution.is_final:
        raise invalid_request(f"Query has not yet finished. Current state: {execution.state}")
    if execution.state != "SUCCEEDED" or execution.result is None:
        raise invalid_request(
            f"Query did not finish successfully. Final query state: {execution.state}\n"
            f"{execution.reason or ''}".rstrip()
        )
    result = execution.result
    # Athena puts the column names in a first row of SELECT results, and counts it in the page.
    header = 1 if execution.statement_type == "DML" and result.columns else 0
    total = header + result.row_count
    start = _offset(request.next_token, execution.id) if request.next_token else 0
    end = min(start + request.max_results, total)
    rows: list[dict[str, Any]] = []
    if start < header:
        rows.append({"Data": [{"VarCharValue": column["Name"]} for column in result.columns]})
    first, count = max(start - header, 0), end - max(start, header)
    leading = execution.leading_rows
    if count > 0 and leading is not None and first + count <= len(leading):
        rows += [{"Data": _datums(values)} for values in leading[first : first + count]]
    elif count > 0:
        page = (athena.engine, execution.result_id, result.athena_types, first, count)
        rows += await asyncio.to_thread(_data_rows, *page)
    response: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": result.columns}},
    }
    if end < total:
        response["NextToken"] = _next_token(execution.id, end)
    return response


async def get_query_runtime_statistics(athena: Athena, body: dict[str, Any]) -> dict[str, Any]:
    """The timeline always; the rows a query returned once it has succeeded (Athena fills
    `Rows` a little later, and may leave it out)."""
    execution = _named(athena, body, "GetQueryRuntimeStatistics")
    timings = statistics(execution)
    answer: dict[str, Any] = {
        "Timeline": {
            name: timings[name]
            for name in (
                "QueryQueueTimeInMillis",
                "ServicePreProcessingTimeInMillis",
                "QueryPlanningTimeInMillis",
                "EngineExecutionTimeInMillis",
                "ServiceProcessingTimeInMillis",
                "TotalExecutionTimeInMillis",
            )
        }
    }
    if execution.state == "SUCCEEDED" and execution.result is not None:
        answer["Rows"] = {
            "InputBytes": execution.data_scanned,
            "OutputRows": execution.result.row_count,
        }
    return {"QueryRuntimeStatistics": answer}


def _data_rows(
    engine: QueryEngine, execution_id: str, types: list[str], first: int, count: int
) -> list[dict[str, Any]]:
    return [{"Data": row_data(row, types)} for row in engine.rows(execution_id, first, count)]


def _datums(values: list[str | None]) -> list[dict[str, str]]:
    """A row as the result file has it, as Athena sends it: a NULL is a Datum without a value."""
    return [{} if value is None else {"VarCharValue": value} for value in values]


def _next_token(execution_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{execution_id}:{offset}".encode()).decode()


def _offset(token: str, execution_id: str) -> int:
    try:
        token_id, _, offset = base64.urlsafe_b64decode(token).decode().rpartition(":")
        if token_id == execution_id and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid_request("The NextToken is not valid for this query; pass one it returned.")


Operation = Callable[[Athena, dict[str, Any]], Awaitable[dict[str, Any]]]
OPERATIONS: dict[str, Operation] = {
    "StartQueryExecution": start_query_execution,
    "GetQueryExecution": get_query_execution,
    "BatchGetQueryExecution": batch_get_query_execution,
    "GetQueryResults": get_query_results,
    "StopQueryExecution": stop_query_execution,
    "GetQueryRuntimeStatistics": get_query_runtime_statistics,
}
OPERATIONS.update(LISTINGS)
