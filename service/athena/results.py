"""Read a finished query's rows, page by page, as durable steps."""

from typing import Any

import restate

from service.athena.client import PAGE_LIMIT, ExecutionStatus, ResultPage
from service.athena.decode import decode_rows
from service.athena.steps import ATHENA_RETRY, athena, terminal_on_rejection
from service.models import Column, QueryRequest, QueryResult, ResultState


def _is_header(page: ResultPage, status: ExecutionStatus) -> bool:
    # Athena repeats the column labels as the first row of a SELECT's first page.
    if status.statement_type != "DML" or not page.rows:
        return False
    return page.rows[0] == [column.name for column in page.columns]


async def fetch_rows(
    ctx: restate.Context, status: ExecutionStatus, max_rows: int
) -> tuple[list[Column], list[list[Any]], bool]:
    """Columns, up to `max_rows` decoded rows, and whether the limit cut rows off."""
    fetch_page = terminal_on_rejection(athena().fetch_page)
    columns: list[Column] = []
    rows: list[list[str | None]] = []
    next_token: str | None = None
    first = True
    while True:
        # One more row than the limit tells whether the result was truncated.
        wanted = max_rows + 1 - len(rows) + (1 if first else 0)
        # Each page is its own step: a crash resumes at the next page, not at the first.
        page: ResultPage = await ctx.run_typed(
            "fetch results page",
            fetch_page,
            ATHENA_RETRY,
            status.query_execution_id,
            next_token,
            min(PAGE_LIMIT, wanted),
        )
        page_rows = page.rows
        if first:
            columns = page.columns
            page_rows = page_rows[1:] if _is_header(page, status) else page_rows
            first = False
        rows.extend(page_rows)
        next_token = page.next_token
        if len(rows) > max_rows or not next_token:
            break
    return columns, decode_rows(columns, rows[:max_rows]), len(rows) > max_rows


async def build_result(
    ctx: restate.Context,
    request: QueryRequest,
    status: ExecutionStatus,
    max_rows: int,
    timeout_s: float,
    *,
    timed_out: bool,
) -> QueryResult:
    columns: list[Column] = []
    rows: list[list[Any]] = []
    truncated = False
    if status.state == "SUCCEEDED" and not timed_out:
        columns, rows, truncated = await fetch_rows(ctx, status, max_rows)
    error = status.reason if status.state != "SUCCEEDED" else None
    if timed_out:
        error = f"The query did not finish within {timeout_s:g} s and was stopped."
    return QueryResult(
        invocation_id=ctx.request().id,
        query_execution_id=status.query_execution_id,
        query=request.query,
        state=result_state(status, timed_out=timed_out),
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        output_location=status.output_location,
        statistics=status.statistics,
        error=error,
        submitted_at=status.submitted_at,
        completed_at=status.completed_at,
    )


def result_state(status: ExecutionStatus, *, timed_out: bool) -> ResultState:
    if timed_out:
        return "TIMED_OUT"
    if status.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
        return status.state
    raise ValueError(f"query {status.query_execution_id} is not final ({status.state})")
