"""Bad input, said as one sentence that names each field: what a 400 carries."""

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from restate import TerminalError


def describe_validation_error(error: ValidationError, subject: str, model: type[BaseModel]) -> str:
    """`Invalid query request. max_rows: Input should be ...; query: must not be empty`"""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"is not a known field (known: {', '.join(model.model_fields)})"
        problems.append(f"{field}: {message}")
    return f"Invalid {subject}. " + "; ".join(problems)


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes, subject: str) -> M:
    """Validate before anything starts: a bad body is a 400 that names the field."""
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as error:
        raise TerminalError(describe_validation_error(error, subject, model), 400) from None
