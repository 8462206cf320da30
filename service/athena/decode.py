"""Turn Athena's string cells into typed JSON values, by the column's Athena type."""

import json
import math
from collections.abc import Callable
from typing import Any

from service.models import Column


def _integer(text: str) -> int:
    return int(text)


def _floating(text: str) -> float | str:
    value = float(text)
    # JSON has no NaN or Infinity: keep Athena's spelling rather than lose the value.
    return text if math.isnan(value) or math.isinf(value) else value


def _boolean(text: str) -> bool:
    return text.strip().lower() == "true"


def _json(text: str) -> Any:
    return json.loads(text)


def _text(text: str) -> str:
    return text


# Decimals, dates, timestamps, arrays, maps and rows stay strings: JSON has no exact type for
# them, and Athena's rendering (ISO dates, exact decimals) is what a reader expects.
_DECODERS: dict[str, Callable[[str], Any]] = {
    "tinyint": _integer,
    "smallint": _integer,
    "integer": _integer,
    "int": _integer,
    "bigint": _integer,
    "double": _floating,
    "float": _floating,
    "real": _floating,
    "boolean": _boolean,
    "json": _json,
}


def decode_cell(athena_type: str, text: str | None) -> Any:
    if text is None:
        return None
    decoder = _DECODERS.get(athena_type.lower(), _text)
    try:
        return decoder(text)
    except ValueError:
        # A value that does not parse as its declared type is shown as Athena sent it.
        return text


def decode_rows(columns: list[Column], rows: list[list[str | None]]) -> list[list[Any]]:
    """Decode every cell; each row has one cell per column."""
    types = [column.type for column in columns]
    return [[decode_cell(t, cell) for t, cell in zip(types, row, strict=True)] for row in rows]
