"""What the local Athena reads from the SQL text itself: test hints and the statement type."""

import logging
import re
from typing import Literal

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

StatementType = Literal["DML", "DDL", "UTILITY"]

# `-- local-athena: run_time_s=5 queue_delay_s=0.1 drop_events=1 finish_before_reply=1 hold=1
# fail=internal`.
_HINT = re.compile(r"--\s*local-athena:(?P<pairs>[^\n]*)")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]+)")

_DML = {"SELECT", "WITH", "VALUES", "TABLE", "FROM", "INSERT", "UPDATE", "DELETE", "MERGE"}
_DDL = {"CREATE", "DROP", "ALTER", "MSCK", "ATTACH", "DETACH"}


class QueryHints(BaseModel):
    """Per-query overrides for tests; absent values fall back to the server's config."""

    queue_delay_s: float | None = None
    run_time_s: float | None = None
    drop_events: bool = False
    # Finish and deliver all events before answering StartQueryExecution: "event before waiter".
    finish_before_reply: bool = False
    # Stay RUNNING past the run time until `POST /_local/release`: many queries parked at once
    # that then end together (`make bench-scale`).
    hold: bool = False
    # Fail inside Athena, not in the query: `internal` is Athena's internal error (SYSTEM,
    # retryable), for callers that must tell it from their own mistakes.
    fail: Literal["internal"] | None = None


def parse_hints(sql: str) -> QueryHints:
    pairs: dict[str, str] = {}
    for match in _HINT.finditer(sql):
        for item in match.group("pairs").split():
            key, _, value = item.partition("=")
            if key not in QueryHints.model_fields:
                log.warning("ignoring unknown local-athena hint %r", key)
                continue
            pairs[key] = value
    try:
        return QueryHints.model_validate(pairs)
    except ValidationError as error:
        log.warning("ignoring invalid local-athena hints %s: %s", pairs, error)
        return QueryHints()


def statement_type(sql: str) -> StatementType:
    """Athena's classification: DML reads or writes rows, DDL changes the catalog."""
    match = _FIRST_WORD.match(_COMMENTS.sub(" ", sql))
    word = match.group(1).upper() if match else ""
    if word in _DML:
        return "DML"
    if word in _DDL:
        return "DDL"
    return "UTILITY"
