"""Pure logic of the promise's endings: which state and error each ending gives, and how
Athena's adapter shapes the result."""

from datetime import UTC, datetime

import pytest
from restate import TerminalError

from service.athena.client import AthenaState, ExecutionStatus
from service.athena.job import AthenaJob
from service.athena.results import Rows
from service.models import QueryRequest
from service.promisify import Settled
from service.promisify.endings import Ending, heard_last, is_cancellation, verdict
from service.promisify.status import parse_cancel

ATHENA = AthenaJob()


def athena(state: AthenaState, reason: str | None = None) -> ExecutionStatus:
    return ExecutionStatus(job_id="qe-1", state=state, reason=reason)


def outcome(
    ending: Ending, status: ExecutionStatus | None, timeout_s: float
) -> tuple[str, str | None]:
    meaning = ATHENA.meaning(status.state) if status else None
    return verdict(ending, meaning, status.reason if status else None, timeout_s, ATHENA.noun)


def ended_at(ending: Ending, status: ExecutionStatus | None, rows: Rows) -> datetime | None:
    return heard_last(ending, rows.heard_at, status.heard_at if status else None)


@pytest.mark.parametrize(
    ("ending", "status", "state", "error"),
    [
        (Ending(kind="finished"), athena("SUCCEEDED"), "SUCCEEDED", None),
        (Ending(kind="finished"), athena("FAILED", "SYNTAX_ERROR"), "FAILED", "SYNTAX_ERROR"),
        # Stopped from outside the promise (the Athena console): Athena's word.
        (Ending(kind="finished"), athena("CANCELLED", "by user"), "CANCELLED", "by user"),
        # The deadline or a cancel came, but Athena had finished first: its result stands.
        (Ending(kind="deadline"), athena("SUCCEEDED"), "SUCCEEDED", None),
        (Ending(kind="cancelled", detail="x"), athena("SUCCEEDED"), "SUCCEEDED", None),
        (Ending(kind="deadline"), athena("CANCELLED"), "TIMED_OUT", "did not finish within 30 s"),
        (Ending(kind="deadline"), None, "TIMED_OUT", "and was stopped"),
        (
            Ending(kind="cancelled", detail="not needed"),
            athena("CANCELLED"),
            "CANCELLED",
            "Cancelled by request: not needed.",
        ),
        (Ending(kind="failed", detail="Athena unreachable"), None, "FAILED", "Athena unreachable"),
        (Ending(kind="failed", detail="boom"), athena("SUCCEEDED"), "FAILED", "boom"),
        (Ending(kind="failed", detail="boom"), athena("FAILED", "bad SQL"), "FAILED", "bad SQL"),
    ],
)
def test_each_ending_gives_one_state_and_error(
    ending: Ending, status: ExecutionStatus | None, state: str, error: str | None
) -> None:
    got_state, got_error = outcome(ending, status, timeout_s=30)
    assert got_state == state
    if error is None:
        assert got_error is None
    else:
        assert got_error is not None and error in got_error


def test_a_start_athena_refused_is_a_failed_result_without_an_execution_id() -> None:
    ended = datetime(2026, 1, 1, tzinfo=UTC)
    settled = Settled(
        invocation_id="inv_1", job_id=None, state="FAILED", error="refused", ended_at=ended
    )
    result = ATHENA.result(settled, QueryRequest(), None, None)
    assert result.state == "FAILED" and result.query_execution_id is None
    assert result.completed_at == ended and result.rows == []


def test_only_restates_cancel_code_is_a_cancellation() -> None:
    assert is_cancellation(TerminalError("cancelled", 409))
    assert not is_cancellation(TerminalError("Athena refused", 400))


def test_a_cancel_takes_an_optional_reason_and_nothing_else() -> None:
    assert parse_cancel(b"").reason is None
    assert parse_cancel(b"{}").reason is None
    assert parse_cancel(b'{"reason": "wrong table"}').reason == "wrong table"
    for bad in (b'{"why": "x"}', b'{"reason": 5}', b"not json"):
        with pytest.raises(TerminalError) as refused:
            parse_cancel(bad)
        assert refused.value.status_code == 400


def test_the_end_is_dated_by_the_last_athena_answer_unless_a_step_failed() -> None:
    heard = athena("SUCCEEDED").model_copy(update={"heard_at": 100.0})
    page_read = Rows(heard_at=105.0)
    finished = Ending(kind="finished")
    # The last page came after the status: the rows were complete then.
    assert ended_at(finished, heard, page_read) == datetime.fromtimestamp(105.0, tz=UTC)
    # Athena failed the query (no rows to read), or a stop's status: the status dates it.
    assert ended_at(Ending(kind="deadline"), heard, Rows()) == datetime.fromtimestamp(100, UTC)
    # A step that failed for good retried long after its last answer: the clock must say so.
    assert ended_at(Ending(kind="failed", detail="x"), heard, page_read) is None
    # Nothing heard (never started, or Athena unreachable): the promise reads the clock.
    assert ended_at(Ending(kind="deadline"), None, Rows()) is None
