"""The one human line printed for each new delivery."""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

QUERY_WIDTH = 60


def delivery_line(webhook_id: str, result: Mapping[str, Any], received_at: datetime) -> str:
    """For example:

    delivered msg_ab12 SUCCEEDED rows=1 query="SELECT sum(...)" 0.083s after completion
    """
    state = result.get("state", "?")
    rows = result.get("row_count", "?")
    query = _shortened(str(result.get("query", "")))
    line = f'delivered {webhook_id} {state} rows={rows} query="{query}"'
    completed_at = _parsed_time(result.get("completed_at"))
    if completed_at is None:
        return line
    latency = (received_at - completed_at).total_seconds()
    return f"{line} {latency:.3f}s after completion"


def _shortened(query: str) -> str:
    flat = re.sub(r"\s+", " ", query).strip()
    return flat if len(flat) <= QUERY_WIDTH else flat[: QUERY_WIDTH - 3] + "..."


def _parsed_time(value: object) -> datetime | None:
    # A timestamp without an offset is taken as UTC, as Athena's are; anything else is skipped.
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
