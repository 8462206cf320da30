"""Every way a promise can end, and the one place where each becomes one `QueryResult`.

Athena finishing is the ordinary ending. The others (the deadline, a cancel, a step that
failed for good) stop the query first; if Athena had finished anyway, its real state and rows
stand, because the result exists and is already paid for.
"""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from restate import TerminalError

from service.athena.client import ExecutionStatus
from service.athena.results import Rows
from service.models import QueryRequest, QueryResult, QueryStatistics, ResultState

# The status code the Restate SDK gives the TerminalError raised when an invocation is cancelled.
CANCELLED_STATUS = 409


# The reason recorded when Restate's own cancel (admin API, CLI, UI) ended a promise.
RESTATE_CANCEL = "cancelled through Restate (admin API or CLI)"


def is_cancellation(error: TerminalError) -> bool:
    return error.status_code == CANCELLED_STATUS


class Ending(BaseModel):
    """Why the wait for Athena ended."""

    kind: Literal["finished", "deadline", "cancelled", "failed"]
    detail: str | None = None

    def sentence(self, timeout_s: float) -> str:
        if self.kind == "deadline":
            return f"The query did not finish within {timeout_s:g} s and was stopped."
        if self.kind == "cancelled":
            return f"Cancelled by request: {self.detail}."
        return f"The promise could not go on ({self.detail}); the query was stopped."


def outcome(
    ending: Ending, status: ExecutionStatus | None, timeout_s: float
) -> tuple[ResultState, str | None]:
    """The result's state and error: Athena's own when it got there first, else the ending's."""
    athena_state = status.state if status is not None else None
    athena_reason = status.reason if status is not None else None
    if athena_state == "FAILED":
        return "FAILED", athena_reason
    if ending.kind == "failed":
        return "FAILED", ending.sentence(timeout_s)
    if athena_state == "SUCCEEDED":
        return "SUCCEEDED", None
    if ending.kind == "deadline":
        return "TIMED_OUT", ending.sentence(timeout_s)
    if ending.kind == "cancelled":
        return "CANCELLED", ending.sentence(timeout_s)
    # Athena ended it on its own terms, e.g. stopped from the console or another client.
    return "CANCELLED", athena_reason


def ended_at(ending: Ending, status: ExecutionStatus | None, rows: Rows) -> datetime | None:
    """When the result was complete, by the clock of the promise's last Athena step (the last
    page read, or the status after a stop), so dating it costs no step of its own. None when
    a step failed for good: the clocks of the steps before it would date that too early."""
    heard = rows.heard_at or (status.heard_at if status else None)
    if ending.kind == "failed" or heard is None:
        return None
    return datetime.fromtimestamp(heard, tz=UTC)


def query_result(
    invocation_id: str,
    request: QueryRequest,
    timeout_s: float,
    ending: Ending,
    status: ExecutionStatus | None,
    rows: Rows,
    execution_id: str | None,
    now: datetime,
) -> QueryResult:
    state, error = outcome(ending, status, timeout_s)
    return QueryResult(
        invocation_id=invocation_id,
        query_execution_id=execution_id,
        query=request.query,
        state=state,
        columns=rows.columns,
        rows=rows.rows,
        row_count=len(rows.rows),
        truncated=rows.truncated,
        output_location=status.output_location if status else None,
        statistics=status.statistics if status else QueryStatistics(),
        error=error,
        submitted_at=status.submitted_at if status else None,
        completed_at=(status.completed_at if status else None) or now,
    )
