"""Why a query failed, worded the way Athena words it.

Athena (Trino) prefixes a failure with an error name and a position, for example
`FUNCTION_NOT_FOUND: line 1:8: Function 'foo' not registered`, and fills `AthenaError` from
its error catalog (ErrorCategory 1 SYSTEM, 2 USER; ErrorType such as 1006 "Syntax error" or
1303 "Provided function or function implementation not found"). The local engine's own
text follows as a detail, so a developer can still see what DuckDB or the translator said.
"""

import re
from dataclasses import dataclass
from typing import Any

import duckdb

SYSTEM, USER = 1, 2
# ErrorType values from Athena's error catalog.
USER_ERROR, DATA_ERROR, SYNTAX_ERROR_TYPE = 1000, 1001, 1006
TABLE_NOT_FOUND_TYPE, NOT_SUPPORTED_TYPE, FUNCTION_NOT_FOUND_TYPE = 1110, 1200, 1303
ENGINE_ERROR, INTERNAL_ERROR = 200, 100


def internal_failure(detail: str) -> "QueryFailure":
    """Athena failing inside itself (ErrorType 100, "Internal service error"): SYSTEM, and
    the query may succeed if resubmitted."""
    return QueryFailure(
        "GENERIC_INTERNAL_ERROR",
        "Internal service error",
        category=SYSTEM,
        error_type=INTERNAL_ERROR,
        retryable=True,
        detail=detail,
    )


@dataclass
class QueryFailure(Exception):
    """A failed query as Athena reports it: a reason, plus the AthenaError fields."""

    name: str  # Trino's error name, e.g. SYNTAX_ERROR
    message: str
    category: int = USER
    error_type: int = USER_ERROR
    retryable: bool = False
    detail: str = ""

    def __str__(self) -> str:
        return self.reason

    @property
    def reason(self) -> str:
        text = f"{self.name}: {self.message}"
        return f"{text} [local engine: {self.detail}]" if self.detail else text

    def athena_error(self) -> dict[str, Any]:
        return {
            "ErrorCategory": self.category,
            "ErrorType": self.error_type,
            "Retryable": self.retryable,
            "ErrorMessage": self.reason,
        }


def position(sql: str, needle: str | None) -> str:
    """Trino's `line L:C: ` for the first occurrence of a name in the user's SQL."""
    if needle:
        match = re.search(re.escape(needle), sql, re.IGNORECASE)
        if match:
            before = sql[: match.start()]
            return f"line {before.count(chr(10)) + 1}:{match.start() - before.rfind(chr(10))}: "
    return "line 1:1: "


def _quoted_name(text: str, pattern: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def from_engine(error: Exception, sql: str) -> QueryFailure:
    """Classify a DuckDB error by its kind, naming what Athena would name."""
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    # "Out of Range Error: Overflow in ..." -> "Overflow in ...": the name says the kind.
    plain = re.sub(r"^[A-Za-z ]+ Error: ", "", first_line)
    if isinstance(error, duckdb.CatalogException):
        function = _quoted_name(text, r"Function with name \"?([^\s\"!]+)\"?")
        if function:
            return QueryFailure(
                "FUNCTION_NOT_FOUND",
                f"{position(sql, function)}Function '{function}' not registered",
                error_type=FUNCTION_NOT_FOUND_TYPE,
                detail=first_line,
            )
        table = _quoted_name(text, r"Table with name ([^\s!]+) does not exist")
        if table:
            return QueryFailure(
                "TABLE_NOT_FOUND",
                f"{position(sql, table)}Table '{table}' does not exist",
                error_type=TABLE_NOT_FOUND_TYPE,
                detail=first_line,
            )
    if isinstance(error, duckdb.BinderException):
        column = _quoted_name(text, r'column with name "?([^\s"]+)"? not found')
        column = column or _quoted_name(text, r'Referenced column "([^"]+)" not found')
        if column:
            return QueryFailure(
                "COLUMN_NOT_FOUND",
                f"{position(sql, column)}Column '{column}' cannot be resolved",
                detail=first_line,
            )
        return QueryFailure("SYNTAX_ERROR", f"{position(sql, None)}{plain}")
    if isinstance(error, duckdb.OutOfRangeException):
        return _data("NUMERIC_VALUE_OUT_OF_RANGE", plain)
    if isinstance(error, duckdb.ConversionException):
        return _data("INVALID_CAST_ARGUMENT", plain)
    if isinstance(error, duckdb.InvalidInputException) and "Division by zero" in text:
        return _data("DIVISION_BY_ZERO", "Division by zero", detail=first_line)
    if isinstance(error, duckdb.ParserException):
        return QueryFailure(
            "SYNTAX_ERROR", f"{position(sql, None)}{plain}", error_type=SYNTAX_ERROR_TYPE
        )
    if isinstance(error, duckdb.InterruptException):
        return QueryFailure("USER_CANCELED", "Query was canceled", error_type=1011)
    if isinstance(error, duckdb.ProgrammingError | duckdb.DataError):
        return _data("INVALID_FUNCTION_ARGUMENT", plain, error_type=1106)
    if isinstance(error, duckdb.Error):
        return QueryFailure(
            "GENERIC_INTERNAL_ERROR", plain, category=SYSTEM, error_type=ENGINE_ERROR
        )
    return QueryFailure(
        "GENERIC_INTERNAL_ERROR",
        f"{type(error).__name__}: {error}",
        category=SYSTEM,
        error_type=INTERNAL_ERROR,
        retryable=True,
    )


def _data(name: str, message: str, detail: str = "", error_type: int = DATA_ERROR) -> QueryFailure:
    return QueryFailure(name, message, error_type=error_type, detail=detail)
