"""Verified deliveries in SQLite, one row per webhook id, kept across restarts.

Every method is synchronous and short; the app calls them through `asyncio.to_thread`.
One connection, guarded by a lock, because those calls arrive from several threads.
"""

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    webhook_id         TEXT PRIMARY KEY,
    webhook_timestamp  INTEGER NOT NULL,
    webhook_signature  TEXT NOT NULL,
    content_type       TEXT,
    body               BLOB NOT NULL,
    state              TEXT,
    query_execution_id TEXT,
    row_count          INTEGER,
    received_at        TEXT NOT NULL,
    last_received_at   TEXT NOT NULL,
    attempts           INTEGER NOT NULL
)
"""

# A redelivery keeps the first body and only counts the attempt: the id is the idempotency key.
_RECORD = """
INSERT INTO deliveries VALUES (
    :webhook_id, :webhook_timestamp, :webhook_signature, :content_type, :body,
    :state, :query_execution_id, :row_count, :received_at, :received_at, 1
)
ON CONFLICT (webhook_id) DO UPDATE
    SET attempts = attempts + 1, last_received_at = excluded.received_at
RETURNING attempts
"""

_COLUMNS = (
    "webhook_id, received_at, webhook_timestamp, attempts, state, query_execution_id, row_count,"
    " body"
)


@dataclass(frozen=True)
class Delivery:
    """One verified request, with the fields of its QueryResult that are worth a column."""

    webhook_id: str
    webhook_timestamp: int
    webhook_signature: str
    content_type: str | None
    body: bytes
    state: str | None
    query_execution_id: str | None
    row_count: int | None
    received_at: str


class DeliveryStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each statement is its own transaction, and each is a single upsert.
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode = WAL")
            # An acknowledged delivery must survive a power cut, not only a crash.
            self._connection.execute("PRAGMA synchronous = FULL")
            self._connection.execute("PRAGMA busy_timeout = 5000")
            self._connection.execute(_SCHEMA)

    def record(self, delivery: Delivery) -> int:
        """Store a new delivery or count a redelivery; returns the attempts so far (1 = new)."""
        with self._lock:
            row = self._connection.execute(_RECORD, vars(delivery)).fetchone()
        return int(row["attempts"])

    def all_deliveries(self) -> list[dict[str, Any]]:
        """Every delivery, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                f"SELECT {_COLUMNS} FROM deliveries ORDER BY received_at, rowid"
            ).fetchall()
        return [_as_json(row) for row in rows]

    def newest(self, limit: int) -> list[dict[str, Any]]:
        """The latest deliveries, newest first, without their bodies (what the page lists)."""
        columns = _COLUMNS.removesuffix(", body")
        with self._lock:
            rows = self._connection.execute(
                f"SELECT {columns} FROM deliveries ORDER BY received_at DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    def delivery(self, webhook_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._connection.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE webhook_id = ?", (webhook_id,)
            ).fetchone()
        return None if row is None else _as_json(row)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _as_json(row: sqlite3.Row) -> dict[str, Any]:
    # Bodies were verified as UTF-8 before they were stored, so this is the exact text.
    return {**dict(row), "body": bytes(row["body"]).decode("utf-8")}
