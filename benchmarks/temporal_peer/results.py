"""Athena's answers as the service's `QueryResult`: the same document on both promises."""

from typing import Any

from benchmarks.temporal_peer.shared import QueryResult, ReadInput
from service.athena.client import statistics_of
from service.athena.decode import decode_rows
from service.models import Column


def columns_of(page: dict[str, Any]) -> list[Column]:
    info = page.get("ResultSet", {}).get("ResultSetMetadata", {}).get("ColumnInfo", [])
    return [Column(name=column["Name"], type=column["Type"]) for column in info]


def cells_of(page: dict[str, Any], columns: list[Column], first: bool) -> list[list[str | None]]:
    rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]]
    if first and rows and rows[0] == [column.name for column in columns]:
        return rows[1:]  # a SELECT's first page repeats the column labels
    return rows


def query_result(
    workflow_id: str,
    request: ReadInput,
    execution: dict[str, Any],
    columns: list[Column],
    cells: list[list[str | None]],
) -> QueryResult:
    """The result of a finished execution; `cells` may hold one row past the limit."""
    status, stats = execution["Status"], execution.get("Statistics", {})
    return QueryResult(
        invocation_id=workflow_id,
        query_execution_id=request.query_execution_id,
        query=request.query,
        state=status["State"],
        columns=columns,
        rows=decode_rows(columns, cells[: request.max_rows]),
        row_count=min(len(cells), request.max_rows),
        truncated=len(cells) > request.max_rows,
        output_location=execution.get("ResultConfiguration", {}).get("OutputLocation"),
        statistics=statistics_of(stats),
        error=status.get("StateChangeReason"),
        submitted_at=status.get("SubmissionDateTime"),
        completed_at=status.get("CompletionDateTime"),
        workgroup=execution.get("WorkGroup"),
        database=execution.get("QueryExecutionContext", {}).get("Database"),
    )
