"""One query execution: what was asked, where it is in its lifecycle, and how it ended."""

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from .engine import ResultSummary
from .failures import QueryFailure, from_engine
from .sqltext import QueryHints, StatementType

State = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
FINAL_STATES: frozenset[State] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
DEFAULT_OUTPUT = "s3://local-athena-results/"


@dataclass
class Execution:
    query: str
    statement_type: StatementType
    work_group: str
    context: dict[str, str]
    output_prefix: str
    hints: QueryHints
    # Each one SQL literal, bound to the query's `?` in order (never pasted into its text).
    execution_parameters: list[str] | None = None
    # Result reuse as asked (minutes; None: not asked), and the execution whose result this
    # one reused.
    reuse_max_age_minutes: int | None = None
    reused_from: "Execution | None" = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: State = "QUEUED"
    reason: str | None = None
    athena_error: dict[str, Any] | None = None
    submitted_at: float = field(default_factory=time.time)
    running_at: float | None = None
    engine_done_at: float | None = None
    completed_at: float | None = None
    planning_ms: int = 0
    data_scanned: int = 0
    result: ResultSummary | None = None
    # The result's first page, as the result file has it: what GetQueryResults is asked for
    # most, answered from memory rather than by a query of DuckDB's results table.
    first_page: list[list[str | None]] | None = None
    event_sequence: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    calls_before_completion: Counter[str] = field(default_factory=Counter)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def output_location(self) -> str:
        if self.reused_from is not None:  # Athena points at the reused result's file
            return self.reused_from.output_location
        return f"{self.output_prefix.rstrip('/')}/{self.id}.csv"

    @property
    def leading_rows(self) -> list[list[str | None]] | None:
        """The first page of the rows GetQueryResults reads (the reused execution's, or its own)."""
        return self.reused_from.leading_rows if self.reused_from is not None else self.first_page

    @property
    def result_id(self) -> str:
        """Whose rows GetQueryResults reads: the reused execution's, or its own."""
        return self.reused_from.result_id if self.reused_from is not None else self.id

    def reuse_key(self) -> tuple[object, ...]:
        """What identifies a reusable result: the workgroup, the context, the SQL text and the
        parameters (other values are another result)."""
        context = tuple(sorted((k, v.lower()) for k, v in self.context.items()))
        return self.work_group, context, self.query, tuple(self.execution_parameters or ())

    def record_call(self, operation: str) -> None:
        self.calls[operation] += 1
        if not self.is_final:
            self.calls_before_completion[operation] += 1

    def fail(self, error: Exception) -> None:
        """A failed query is an outcome, recorded the way Athena describes it."""
        failure = error if isinstance(error, QueryFailure) else from_engine(error, self.query)
        self.reason = failure.reason
        self.athena_error = failure.athena_error()
