"""The client's typed view of the contract: the request, the result, status and answers.

A copy of the service's models (`service/models.py`), not an import: the client is deployed
apart and imports nothing of the service (which would bring restate-sdk and boto3 along),
and it reads rather than validates: unknown fields are kept, so a newer service that adds
one does not break an older client. `tests/test_client_models.py` checks that this copy has
every field of the service's `QueryResult`, in its order, and reads the service's results.
"""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

ResultState = Literal["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]
# Phases a promise goes through: accepted, queued, running, fetching, done.
PHASES = ("accepted", "queued", "running", "fetching", "done")
Parameter = bool | int | float | str


class _Read(BaseModel):
    # Read what the service sends; keep what this copy does not know yet.
    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class QueryRequest:
    """What to run; every field left None is the service's default (the demo query for
    `query`). Checked by the service, not here: a bad value is a `BadRequest` naming it."""

    query: str | None = None
    callback_url: str | None = None
    max_rows: int | None = None
    timeout_s: float | None = None
    catalog: str | None = None
    database: str | None = None
    workgroup: str | None = None
    output_location: str | None = None
    parameters: list[Parameter] | None = None
    result_reuse_minutes: int | None = None
    result_by: Literal["rows", "link"] | None = None
    result_link_above_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}


class Column(_Read):
    name: str
    type: str


class QueryStatistics(_Read):
    total_execution_time_ms: int | None = None
    engine_execution_time_ms: int | None = None
    queue_time_ms: int | None = None
    planning_time_ms: int | None = None
    service_processing_time_ms: int | None = None
    data_scanned_bytes: int | None = None


class ResultLink(_Read):
    """By link: the whole result as Athena's CSV file, behind a presigned GET."""

    url: str
    expires_at: datetime
    size_bytes: int
    format: str = "csv"


class QueryResult(_Read):
    """The one result, as pulled; `received` is its bytes exactly as the ingress sent them
    (the webhook's body is the same bytes)."""

    invocation_id: str
    query_execution_id: str | None
    query: str
    state: ResultState
    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    output_location: str | None
    statistics: QueryStatistics
    error: str | None
    submitted_at: datetime | None
    completed_at: datetime | None
    catalog: str | None = None
    database: str | None = None
    workgroup: str | None = None
    parameters: list[Parameter] | None = None
    result_reused: bool | None = None
    error_category: Literal["SYSTEM", "USER", "OTHER"] | None = None
    error_type: int | None = None
    error_retryable: bool | None = None
    result_link: ResultLink | None = None

    _received: bytes = PrivateAttr(default=b"")

    @property
    def received(self) -> bytes:
        return self._received

    @classmethod
    def from_bytes(cls, body: bytes) -> "QueryResult":
        result = cls.model_validate_json(body)
        result._received = body
        return result


class Attempt(_Read):
    attempt: int
    redelivery: int = 0
    finished_at: datetime
    verdict: str
    status: int | None = None
    error: str | None = None


class DeliveryStatus(_Read):
    """Where the push of the result stands: pending, retrying, delivered or gave_up."""

    webhook_id: str
    callback_url: str
    state: str = "pending"
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    redeliveries: int = 0
    history: list[Attempt] = []


class PromiseStatus(_Read):
    """Where a promise stands (`status`), read from Restate without calling Athena."""

    invocation_id: str
    query: str | None = None
    submitted_at: datetime
    phase: str
    query_execution_id: str | None = None
    athena_state: str | None = None
    rows_fetched: int = 0
    state: ResultState | None = None
    error: str | None = None
    ended_at: datetime | None = None
    webhook_id: str | None = None
    cancel_reason: str | None = None
    checks_failing: str | None = None
    elapsed_s: float
    delivery: DeliveryStatus | None = None


class CancelAnswer(_Read):
    """`cancelling`, `already_cancelling`, `too_late` or `already_ended`."""

    outcome: str
    message: str
    state: ResultState | None = None


class RedeliveryAnswer(_Read):
    """`redelivering` (a new delivery, number `redelivery`) or `under_way` (one still retries)."""

    outcome: str
    webhook_id: str
    redelivery: int
    message: str


class Submitted(_Read):
    """`submit`'s answer: the invocation the key started (or had started before)."""

    invocation_id: str
    key: str
    # "Accepted" for a new one, "PreviouslyAccepted" when the key was known.
    status: str
