"""Serialization at the service's edge: one encoding of results, readable validation errors."""

from pydantic import ValidationError
from restate.serde import Serde

from service.models import QueryResult, encode_result


class QueryResultSerde(Serde[QueryResult]):
    """The pull response uses `encode_result`, the very function that makes the webhook body."""

    def deserialize(self, buf: bytes) -> QueryResult | None:
        return QueryResult.model_validate_json(buf) if buf else None

    def serialize(self, obj: QueryResult | None) -> bytes:
        return encode_result(obj) if obj is not None else b""


def describe_validation_error(error: ValidationError) -> str:
    """`max_rows: Input should be greater than or equal to 0; query: must not be empty`"""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a known field (known: query, callback_url, max_rows, timeout_s)"
        problems.append(f"{field}: {message}")
    return "Invalid query request. " + "; ".join(problems)
