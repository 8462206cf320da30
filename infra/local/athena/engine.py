"""The query engine: DuckDB over the JSONL files, with each execution's result kept in a table.

Every call here blocks; the server runs them in threads. Each query gets its own cursor,
so queries run in parallel and one can be interrupted without touching the others.
Queries arrive in Athena's SQL and run translated (dialect.py); failures leave as QueryFailure.
"""

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from infra.schema import DEFAULT_CATALOG, DataTable

from .dialect import UNNAMED, load_dialects, parameter_literal, translate
from .failures import USER_ERROR, QueryFailure, from_engine
from .rendering import column_info

CATALOG = DEFAULT_CATALOG
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
    def __init__(self, data_dir: Path, tables: list[DataTable]) -> None:
        self.data_dir = data_dir.resolve()
        self.tables = tables
        self._connection = duckdb.connect()
        self._lock = threading.Lock()
        self._running: dict[str, duckdb.DuckDBPyConnection] = {}
        self._create_catalogs()
        load_dialects()  # now, in one thread: never by two queries' threads at once

    @property
    def catalogs(self) -> dict[str, dict[str, list[DataTable]]]:
        """catalog -> database -> its tables, as the Glue Data Catalog (and any other) lists
        them; the account's own catalog is always there, with its `default` database."""
        found: dict[str, dict[str, list[DataTable]]] = {CATALOG: {"default": []}}
        for table in self.tables:
            databases = found.setdefault(table.schema.catalog.lower(), {"default": []})
            databases.setdefault(table.schema.database, []).append(table)
        return found

    def _create_catalogs(self) -> None:
        statements = [f"ATTACH ':memory:' AS {RESULTS}"]
        for catalog, databases in self.catalogs.items():
            statements.append(f"ATTACH ':memory:' AS {quoted(catalog)}")
            for database, tables in databases.items():
                statements.append(f"CREATE SCHEMA {quoted(catalog)}.{quoted(database)}")
                statements += [self._view(table) for table in tables]
        # Trino's semantics where DuckDB has a switch for them: `7 / 2` is 3, and
        # timestamps with time zone come back in UTC, as Athena shows them.
        statements += ["SET GLOBAL integer_division = true", "SET GLOBAL TimeZone = 'UTC'"]
        for statement in statements:
            self._connection.execute(statement)

    def _view(self, table: DataTable) -> str:
        schema = table.schema
        glob = str(Path(table.files).resolve()).replace("'", "''")
        raw_columns = ", ".join(f"'{c.name}': 'VARCHAR'" for c in schema.columns)
        typed = ", ".join(
            _CASTS[c.type].format(col=quoted(c.name)) + f" AS {quoted(c.name)}"
            for c in schema.columns
        )
        name = ".".join(quoted(part) for part in (schema.catalog.lower(), schema.database))
        # A view, so files added to the data dir show up in the next query.
        return (
            f"CREATE VIEW {name}.{quoted(schema.table)} AS SELECT {typed} "
            f"FROM read_json('{glob}', format = 'newline_delimited', columns = {{{raw_columns}}})"
        )

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._connection.cursor()

    def data_size(self, sql: str | None = None) -> int:
        """The bytes of the tables' files; with `sql`, of those the query names."""
        return sum(
            path.stat().st_size
            for table in self.tables
            if sql is None or _mentions(sql, table)
            for path in Path(table.files).parent.glob(Path(table.files).name)
        )

    def run(
        self,
        execution_id: str,
        sql: str,
        database: str | None,
        catalog: str | None = None,
        parameters: list[str] | None = None,
    ) -> ResultSummary:
        """Run one query and keep its rows in a results table; raises QueryFailure."""
        started = time.monotonic()
        date_columns = frozenset(
            c.name.lower() for t in self.tables for c in t.schema.columns if c.type == "date"
        )
        translation = translate(sql, date_columns)
        given = len(parameters or [])
        if given != translation.placeholders:
            raise QueryFailure(
                "INVALID_PARAMETER_USAGE",
                "line 1:1: Incorrect number of parameters: "
                f"expected {translation.placeholders} but found {given}",
                error_type=USER_ERROR,
            )
        try:
            values = [self._literal_value(p, i) for i, p in enumerate(parameters or [])]
            where = (catalog or CATALOG).lower(), database or "default"
            return self._execute(execution_id, translation.duckdb_sql, where, values, started, sql)
        except QueryFailure:
            raise
        except Exception as error:  # DuckDB's reason, worded the way Athena words it
            raise from_engine(error, sql) from error

    def _literal_value(self, text: str, position: int) -> Any:
        """The value of one ExecutionParameter, evaluated on its own: only a literal gets here
        (parameter_literal refuses anything else), and the query gets the value, not text."""
        cursor = self._cursor()
        try:
            row = cursor.execute(f"SELECT {parameter_literal(text, position)}").fetchone()
            return row[0] if row else None
        finally:
            cursor.close()

    def _execute(
        self,
        execution_id: str,
        duckdb_sql: str,
        where: tuple[str, str],
        values: list[Any],
        started: float,
        sql: str,
    ) -> ResultSummary:
        cursor = self._cursor()
        with self._lock:
            self._running[execution_id] = cursor
        try:
            self._use(cursor, *where)
            relation = cursor.sql(duckdb_sql, params=values or None)
            planning_ms = round((time.monotonic() - started) * 1000)
            scanned = self.data_size(sql)
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

    def _use(self, cursor: duckdb.DuckDBPyConnection, catalog: str, database: str) -> None:
        """The query's context, failing as Athena fails a query in a context that is not there."""
        databases = self.catalogs.get(catalog)
        if databases is None:
            raise QueryFailure("CATALOG_NOT_FOUND", f"line 1:1: Catalog '{catalog}' does not exist")
        if database not in databases:
            raise QueryFailure("SCHEMA_NOT_FOUND", f"line 1:1: Schema '{database}' does not exist")
        cursor.execute(f"USE {quoted(catalog)}.{quoted(database)}")

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


def _mentions(sql: str, table: DataTable) -> bool:
    # Good enough for plausible statistics: Athena bills the files a query touches.
    text, schema = sql.lower(), table.schema
    named = schema.table != "table" and re.search(rf"\b{re.escape(schema.table.lower())}\b", text)
    return quoted(schema.table).lower() in text or schema.database.lower() in text or bool(named)


def _label(name: str, position: int) -> str:
    """Athena labels an unaliased select item by its output position: `_col0`, `_col1`, ..."""
    return f"_col{position}" if name.startswith(UNNAMED) else name
