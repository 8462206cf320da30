"""Read a finished query's rows, page by page, each page a durable step of the kit's."""

from typing import Any

from pydantic import Field

from service.athena.client import PAGE_LIMIT, AthenaQueries, ExecutionStatus, ResultPage
from service.athena.decode import decode_rows
from service.models import Column, ResultLink
from service.promisify import Collected, Steps


def _is_header(page: ResultPage, status: ExecutionStatus) -> bool:
    # Athena repeats the column labels as the first row of a SELECT's first page.
    if status.statement_type != "DML" or not page.rows:
        return False
    return page.rows[0] == [column.name for column in page.columns]


class Rows(Collected):
    """The decoded rows of a result, up to the row limit, and whether the limit cut some off."""

    columns: list[Column] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    truncated: bool = False
    # By link: the rows stay in Athena's file, and the count is Athena's.
    link: ResultLink | None = None
    linked_rows: int = 0

    def count(self) -> int:
        return self.linked_rows if self.link else len(self.rows)


def first_page_size(max_rows: int) -> int:
    # One more row than the limit tells whether the result was truncated, and a SELECT's
    # first page repeats the column labels as a row.
    return min(PAGE_LIMIT, max_rows + 2)


async def fetch_rows(
    steps: Steps, athena: AthenaQueries, status: ExecutionStatus, max_rows: int
) -> Rows:
    """Every page up to `max_rows` (the first may have come with the status); `steps` hears
    the row count after each page that has another after it."""
    columns: list[Column] = []
    rows: list[list[str | None]] = []
    next_token: str | None = None
    first_page, first = status.first_page, True
    while True:
        wanted = first_page_size(max_rows) if first else max_rows + 1 - len(rows)
        if first_page is not None:
            page, first_page = first_page, None
        else:
            # Each page is its own step: a crash resumes at the next page, not at the first.
            page = await steps.run(
                "fetch results page",
                athena.fetch_page,
                status.query_execution_id,
                next_token,
                min(PAGE_LIMIT, wanted),
                result=ResultPage,
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
        # The last page needs no progress note: the promise's final record follows at once.
        steps.progress(len(rows))
    return Rows(
        columns=columns,
        rows=decode_rows(columns, rows[:max_rows]),
        truncated=len(rows) > max_rows,
        heard_at=page.heard_at,
    )
