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

from service.athena.literals import MAX_LITERAL_CHARS, MAX_PARAMETERS, Parameter, literal_for
from service.promisify.delivery.callback_url import CallbackUrlRefused, check_static

# The webhook-id every pushed result carries: the kit makes it from the invocation id.
from service.promisify.delivery.models import invocation_id_of, webhook_id_for
from service.promisify.job import ResultState
from service.promisify.validation import describe_validation_error

DEMO_QUERY = 'SELECT sum("table"."value") AS answer FROM "demo_db"."table"'

# Athena refuses query strings over 262,144 bytes; refusing earlier gives a clearer error.
MAX_QUERY_BYTES = 262_144
# One result travels as one JSON document through Restate and the webhook: keep it bounded.
MAX_ROWS_LIMIT = 100_000
MAX_TIMEOUT_S = 24 * 3600
# Athena's ResultReuseByAgeConfiguration.MaxAgeInMinutes: 0 to 10,080 (7 days).
MAX_RESULT_REUSE_MINUTES = 10_080
# Athena's request shapes: WorkGroupName, CatalogNameString, DatabaseString.
WORKGROUP_PATTERN = r"^[a-zA-Z0-9._-]{1,128}$"
ErrorCategory = Literal["SYSTEM", "USER", "OTHER"]
ResultBy = Literal["rows", "link"]


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
    # Where the query runs; each None is the operator's default, each value on an allow-list.
    catalog: StrictStr | None = Field(None, min_length=1, max_length=256)
    database: StrictStr | None = Field(None, min_length=1, max_length=255)
    workgroup: StrictStr | None = Field(None, pattern=WORKGROUP_PATTERN)
    output_location: StrictStr | None = Field(None, pattern=r"^s3://[^/]+", max_length=1024)
    # Values for the query's `?` placeholders, in order; each sent as one SQL literal.
    parameters: list[Parameter] | None = Field(None, max_length=MAX_PARAMETERS)
    result_reuse_minutes: StrictInt | None = Field(None, ge=0, le=MAX_RESULT_REUSE_MINUTES)
    # "link": the result carries a presigned link to Athena's result file instead of its rows;
    # "rows" (None): the rows, unless the file is over result_link_above_bytes.
    result_by: ResultBy | None = None
    # A result file over this size goes by link (the operator's ATHENA_RESULT_LINK_ABOVE_BYTES
    # caps it: a request may only lower it).
    result_link_above_bytes: StrictInt | None = Field(None, ge=0)

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

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters_are_json_scalars(cls, parameters: object) -> object:
        # One sentence per bad item, instead of one per member of the union it failed.
        if isinstance(parameters, list):
            for position, value in enumerate(parameters):
                if not isinstance(value, bool | int | float | str):
                    kinds: dict[type, str] = {dict: "an object", list: "a list"}
                    kind = kinds.get(type(value), "null")
                    raise ValueError(
                        f"parameter {position} is {kind}; give a string, a number or a boolean "
                        "(the service writes each as one SQL literal)"
                    )
        return parameters

    @field_validator("parameters")
    @classmethod
    def _parameters_fit_athena(cls, parameters: list[Parameter] | None) -> list[Parameter] | None:
        # Athena takes 1 to 1024 characters a parameter; the literal is what it counts.
        for position, value in enumerate(parameters or []):
            try:
                literal = literal_for(value)
            except ValueError as error:
                raise ValueError(f"parameter {position}: {error}") from None
            if len(literal) > MAX_LITERAL_CHARS:
                raise ValueError(
                    f"parameter {position} is {len(literal)} characters as a SQL literal "
                    f"(quotes included); Athena takes at most {MAX_LITERAL_CHARS}"
                )
        return parameters

    @property
    def execution_parameters(self) -> list[str] | None:
        """The parameters as Athena reads them: one SQL literal each (None: none given)."""
        if not self.parameters:
            return None
        return [literal_for(value) for value in self.parameters]

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


class ResultLink(BaseModel):
    """The whole result as Athena wrote it: a CSV file (a header row, then every row, each
    value quoted), behind a presigned S3 GET that works until `expires_at`."""

    url: str
    expires_at: datetime
    size_bytes: int
    format: Literal["csv"] = "csv"


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
    # What the execution ran with (Athena's word, or the request's when it never started).
    catalog: str | None = None
    database: str | None = None
    workgroup: str | None = None
    parameters: list[Parameter] | None = None
    # Whether Athena answered from an earlier execution's result (result_reuse_minutes).
    result_reused: bool | None = None
    # When Athena failed the query: its AthenaError, for a caller deciding whether to retry.
    error_category: ErrorCategory | None = None
    error_type: int | None = None
    error_retryable: bool | None = None
    # By link: where the rows are (then `rows` is empty and `row_count` counts the file's rows).
    result_link: ResultLink | None = None


def describe_request_error(error: ValidationError) -> str:
    """`Invalid query request. max_rows: Input should be ...; query: must not be empty`"""
    return describe_validation_error(error, "query request", QueryRequest)


__all__ = [
    "DEMO_QUERY",
    "Column",
    "ErrorCategory",
    "QueryRequest",
    "QueryResult",
    "QueryStatistics",
    "ResultBy",
    "ResultLink",
    "ResultState",
    "describe_request_error",
    "invocation_id_of",
    "webhook_id_for",
]
