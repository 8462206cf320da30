"""The query engine: DuckDB over the JSONL files, with each execution's result kept in a table.

Every call here blocks; the server runs them in threads. Each query gets its own cursor,
so queries run in parallel and one can be interrupted without touching the others.
Queries arrive in Athena's SQL and run translated (dialect.py); failures leave as QueryFailure.
"""

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from infra.schema import TableSchema

from .dialect import UNNAMED, load_dialects, translate
from .failures import QueryFailure, from_engine
from .rendering import column_info

CATALOG = "awsdatacatalog"
RESULTS = "local_results"
# The JSON holds strings; these casts give the columns the types the schema declares.
_CASTS = {
    "string": "CAST({col} AS VARCHAR)",
    # Plain `YYYY-MM-DD` only, as Athena's JSON SerDe reads a date column.
    "date": "CAST({col} AS DATE)",
    "timestamp": "CAST({col} AS TIMESTAMP)",
    "double": "CAST({col} AS DOUBLE)",
    "bigint": "CAST({col} AS BIGINT)",
    "int": "CAST({col} AS INTEGER)",
    "boolean": "CAST({col} AS BOOLEAN)",
}


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass
class ResultSummary:
    """What a finished query produced; the rows themselves stay in DuckDB."""

    columns: list[dict[str, Any]] = field(default_factory=list)
    row_count: int = 0
    planning_ms: int = 0
    scanned_bytes: int = 0

    @property
    def athena_types(self) -> list[str]:
        return [column["Type"] for column in self.columns]


class QueryEngine:
    def __init__(self, data_dir: Path, schema: TableSchema) -> None:
        self.data_dir = data_dir.resolve()
        self.schema = schema
        self._connection = duckdb.connect()
        self._lock = threading.Lock()
        self._running: dict[str, duckdb.DuckDBPyConnection] = {}
        self._create_catalog()
        load_dialects()  # now, in one thread: never by two queries' threads at once

    def _create_catalog(self) -> None:
        glob = str(self.data_dir / "*.jsonl").replace("'", "''")
        raw_columns = ", ".join(f"'{c.name}': 'VARCHAR'" for c in self.schema.columns)
        typed = ", ".join(
            _CASTS[c.type].format(col=quoted(c.name)) + f" AS {quoted(c.name)}"
            for c in self.schema.columns
        )
        database = f"{CATALOG}.{quoted(self.schema.database)}"
        for statement in [
            f"ATTACH ':memory:' AS {CATALOG}",
            f"ATTACH ':memory:' AS {RESULTS}",
            f'CREATE SCHEMA {CATALOG}."default"',
            f"CREATE SCHEMA {database}",
            # A view, so files added to the data dir show up in the next query.
            f"CREATE VIEW {database}.{quoted(self.schema.table)} AS SELECT {typed} "
            f"FROM read_json('{glob}', format = 'newline_delimited', columns = {{{raw_columns}}})",
            # Trino's semantics where DuckDB has a switch for them: `7 / 2` is 3, and
            # timestamps with time zone come back in UTC, as Athena shows them.
            "SET GLOBAL integer_division = true",
            "SET GLOBAL TimeZone = 'UTC'",
        ]:
            self._connection.execute(statement)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._connection.cursor()

    def data_size(self) -> int:
        return sum(path.stat().st_size for path in self.data_dir.glob("*.jsonl"))

    def run(self, execution_id: str, sql: str, database: str | None) -> ResultSummary:
        """Run one query and keep its rows in a results table; raises QueryFailure."""
        started = time.monotonic()
        date_columns = frozenset(c.name.lower() for c in self.schema.columns if c.type == "date")
        duckdb_sql = translate(sql, date_columns).duckdb_sql
        try:
            return self._execute(execution_id, duckdb_sql, database, started, sql)
        except QueryFailure:
            raise
        except Exception as error:  # DuckDB's reason, worded the way Athena words it
            raise from_engine(error, sql) from error

    def _execute(
        self, execution_id: str, duckdb_sql: str, database: str | None, started: float, sql: str
    ) -> ResultSummary:
        cursor = self._cursor()
        with self._lock:
            self._running[execution_id] = cursor
        try:
            cursor.execute(f"USE {CATALOG}.{quoted(database or 'default')}")
            relation = cursor.sql(duckdb_sql)
            planning_ms = round((time.monotonic() - started) * 1000)
            scanned = self.data_size() if self._reads_table(sql) else 0
            if relation is None:
                return ResultSummary(planning_ms=planning_ms, scanned_bytes=scanned)
            columns = [
                column_info(_label(name, position), duck_type)
                for position, (name, duck_type) in enumerate(
                    zip(relation.columns, relation.types, strict=True)
                )
            ]
            relation.create(self._result_table(execution_id))
            counted = cursor.execute(f"SELECT count(*) FROM {self._result_table(execution_id)}")
            (count,) = counted.fetchone() or (0,)
            return ResultSummary(columns, int(count), planning_ms, scanned)
        finally:
            with self._lock:
                self._running.pop(execution_id, None)
            cursor.close()

    def _reads_table(self, sql: str) -> bool:
        # Good enough for plausible statistics: Athena bills the files a query touches.
        text = sql.lower()
        return quoted(self.schema.table).lower() in text or self.schema.database.lower() in text

    def interrupt(self, execution_id: str) -> None:
        with self._lock:
            cursor = self._running.get(execution_id)
        if cursor is not None:
            cursor.interrupt()

    def rows(self, execution_id: str, offset: int, limit: int) -> list[tuple[Any, ...]]:
        """A page of a finished result; paging with OFFSET relies on insertion order."""
        cursor = self._cursor()
        try:
            query = f"SELECT * FROM {self._result_table(execution_id)} LIMIT ? OFFSET ?"
            return cursor.execute(query, [limit, offset]).fetchall()
        finally:
            cursor.close()

    def _result_table(self, execution_id: str) -> str:
        return f"{RESULTS}.{quoted('q_' + execution_id)}"


def _label(name: str, position: int) -> str:
    """Athena labels an unaliased select item by its output position: `_col0`, `_col1`, ..."""
    return f"_col{position}" if name.startswith(UNNAMED) else name
