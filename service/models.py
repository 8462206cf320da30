"""The public contract: what a caller submits, the one result both delivery paths carry, and
the one way each is read and written at the service's edge."""

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from restate.serde import Serde

from service.push.callback_url import CallbackUrlRefused, check_static

DEMO_QUERY = 'SELECT sum("table"."value") AS answer FROM "demo_db"."table"'

# Athena refuses query strings over 262,144 bytes; refusing earlier gives a clearer error.
MAX_QUERY_BYTES = 262_144
# One result travels as one JSON document through Restate and the webhook: keep it bounded.
MAX_ROWS_LIMIT = 100_000
MAX_TIMEOUT_S = 24 * 3600

ResultState = Literal["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]


class QueryRequest(BaseModel):
    """What a caller submits. `request` is the seed client's name for `query`.

    Strict types: the contract is JSON, so `"10"` is not a number and `true` is not 1.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    query: StrictStr = Field(DEMO_QUERY, alias="request", description="Athena SQL to run.")
    callback_url: StrictStr | None = Field(None, description="Where to POST the signed result.")
    max_rows: StrictInt | None = Field(None, ge=0, le=MAX_ROWS_LIMIT, description="Row limit.")
    # A JSON number: an integer or a fraction of seconds (strict floats accept ints too).
    timeout_s: StrictFloat | None = Field(
        None, gt=0, le=MAX_TIMEOUT_S, description="Query deadline."
    )

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _timeout_is_a_number(cls, value: object) -> object:
        # Python's JSON parsers take NaN and Infinity; say what they are before the bounds
        # checks would call NaN "greater than" something.
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(
                f"{value} is not a number of seconds; give a finite JSON number "
                "(NaN and Infinity are refused)"
            )
        return value

    @field_validator("query")
    @classmethod
    def _query_is_runnable(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("must not be empty")
        if len(query.encode()) > MAX_QUERY_BYTES:
            raise ValueError(f"must be at most {MAX_QUERY_BYTES} bytes")
        return query

    @field_validator("callback_url")
    @classmethod
    def _callback_url_is_well_formed(cls, url: str | None) -> str | None:
        # Addresses are checked later, in a durable step; the form is checked here, at once.
        if url is not None:
            try:
                check_static(url)
            except CallbackUrlRefused as refusal:
                raise ValueError(str(refusal)) from None
        return url


class Column(BaseModel):
    name: str
    type: str = Field(description="Athena's type name, e.g. varchar, double, date.")


class QueryStatistics(BaseModel):
    """Athena's own timings, in milliseconds, and the bytes it scanned."""

    total_execution_time_ms: int | None = None
    engine_execution_time_ms: int | None = None
    queue_time_ms: int | None = None
    planning_time_ms: int | None = None
    service_processing_time_ms: int | None = None
    data_scanned_bytes: int | None = None


class QueryResult(BaseModel):
    """One JSON document, byte-identical on the pull and the push path."""

    invocation_id: str
    query_execution_id: str | None  # None only when Athena refused to start the query
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


def encode_result(result: QueryResult) -> bytes:
    """The one serialization of a result: both the pull response and the webhook body."""
    return result.model_dump_json().encode()


WEBHOOK_ID_PREFIX = "msg_"


def webhook_id_for(invocation_id: str) -> str:
    """The webhook-id of a result: stable across every retry and replay (the invocation is
    the message), and what `GET /deliveries/{webhook-id}` on the listener is keyed by."""
    return f"{WEBHOOK_ID_PREFIX}{invocation_id}"


def invocation_id_of(webhook_id: str) -> str | None:
    """The invocation a webhook-id was made from; None for an id `webhook_id_for` never made."""
    invocation_id = webhook_id.removeprefix(WEBHOOK_ID_PREFIX)
    return invocation_id if invocation_id and invocation_id != webhook_id else None


class QueryResultSerde(Serde[QueryResult]):
    """The pull response uses `encode_result`, the very function that makes the webhook body."""

    def deserialize(self, buf: bytes) -> QueryResult | None:
        return QueryResult.model_validate_json(buf) if buf else None

    def serialize(self, obj: QueryResult | None) -> bytes:
        return encode_result(obj) if obj is not None else b""


def describe_validation_error(
    error: ValidationError, subject: str = "query request", model: type[BaseModel] = QueryRequest
) -> str:
    """`Invalid query request. max_rows: Input should be ...; query: must not be empty`"""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"is not a known field (known: {', '.join(model.model_fields)})"
        problems.append(f"{field}: {message}")
    return f"Invalid {subject}. " + "; ".join(problems)
