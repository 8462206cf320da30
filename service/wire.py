"""Serialization at the service's edge: one encoding of results, readable validation errors."""

from pydantic import ValidationError
from restate.serde import Serde

from service.models import QueryRequest, QueryResult, encode_result

QUERY_REQUEST_FIELDS = ", ".join(QueryRequest.model_fields)


class QueryResultSerde(Serde[QueryResult]):
    """The pull response uses `encode_result`, the very function that makes the webhook body."""

    def deserialize(self, buf: bytes) -> QueryResult | None:
        return QueryResult.model_validate_json(buf) if buf else None

    def serialize(self, obj: QueryResult | None) -> bytes:
        return encode_result(obj) if obj is not None else b""


def describe_validation_error(
    error: ValidationError, subject: str = "query request", known: str = QUERY_REQUEST_FIELDS
) -> str:
    """`Invalid query request. max_rows: Input should be ...; query: must not be empty`"""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"is not a known field (known: {known})"
        problems.append(f"{field}: {message}")
    return f"Invalid {subject}. " + "; ".join(problems)
