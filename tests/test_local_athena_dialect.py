"""Athena SQL with known answers, through an unmodified boto3 client and the real local Athena.

Each case says what Athena answers: the labels, the Athena types, each value as Athena renders
it in VarCharValue, and the JSON value the service's decoder makes of it. The answers are
Athena's (Trino's) semantics, not whatever DuckDB happens to say: integer division truncates,
a DATE plus days stays a DATE, unaliased items are `_col<position>`, and so on.
A pass here is a *local* pass; README.md in infra/local/athena says how to verify on Athena.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from service.athena.decode import decode_cell

from .local_athena_support import REPO_ROOT, LocalAthena, running_local_athena

if TYPE_CHECKING:  # the stubs are a dev dependency, needed by mypy only
    from mypy_boto3_athena import AthenaClient

pytestmark = pytest.mark.e2e

T = '"demo_db"."table"'
# Precision as Athena reports it for types whose precision is fixed.
FIXED_PRECISION = {"varchar": 2147483647, "integer": 10, "bigint": 19, "double": 17}
FIXED_PRECISION |= {"boolean": 0, "date": 0, "timestamp": 3}
NaN = float("nan")


@dataclass(frozen=True)
class Case:
    sql: str
    columns: list[tuple[str, str]]  # (label, Athena type)
    rows: list[list[str | None]]  # VarCharValue, None for NULL
    decoded: list[list[Any]]  # what service.athena.decode makes of each value
    # (column index, precision, scale) where the case pins them down.
    precision: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    sql: str
    name: str  # Trino's error name, the start of StateChangeReason
    error_type: int


CASES: dict[str, Case] = {
    "demo query": Case(
        f'SELECT sum("table"."value") AS answer FROM {T}',
        [("answer", "double")],
        [["42.0"]],
        [[42.0]],
    ),
    "unaliased expressions are _colN": Case(
        f"SELECT count(*), 1 + 1, 'x' FROM {T}",
        [("_col0", "bigint"), ("_col1", "integer"), ("_col2", "varchar")],
        [["3", "2", "x"]],
        [[3, 2, "x"]],
    ),
    "columns keep their names, expressions get positions": Case(
        f"SELECT id, upper(id), \"value\" * 2 AS doubled FROM {T} WHERE id = 'a'",
        [("id", "varchar"), ("_col1", "varchar"), ("doubled", "double")],
        [["a", "A", "34.0"]],
        [["a", "A", 34.0]],
    ),
    "a star counts towards the position": Case(
        f"SELECT *, 1 FROM {T} WHERE id = 'a'",
        [("id", "varchar"), ("date", "date"), ("value", "double"), ("_col3", "integer")],
        [["a", "2024-01-01", "17.0", "1"]],
        [["a", "2024-01-01", 17.0, 1]],
    ),
    "union takes labels from its first branch": Case(
        "SELECT 1 UNION ALL SELECT 2 ORDER BY 1",
        [("_col0", "integer")],
        [["1"], ["2"]],
        [[1], [2]],
    ),
    "date_format with MySQL-style specifiers": Case(
        "SELECT date_format(TIMESTAMP '2024-01-02 03:04:05', '%Y-%m-%d %H:%i:%s')",
        [("_col0", "varchar")],
        [["2024-01-02 03:04:05"]],
        [["2024-01-02 03:04:05"]],
    ),
    "from_iso8601_timestamp keeps its zone": Case(
        "SELECT from_iso8601_timestamp('2024-01-02T03:04:05.123Z')",
        [("_col0", "timestamp with time zone")],
        [["2024-01-02 03:04:05.123 UTC"]],
        [["2024-01-02 03:04:05.123 UTC"]],
    ),
    "approx_distinct": Case(
        f"SELECT approx_distinct(id) FROM {T}",
        [("_col0", "bigint")],
        [["3"]],
        [[3]],
    ),
    "regexp_like": Case(
        "SELECT regexp_like('abc123', '[0-9]+'), regexp_like('abc', '^b')",
        [("_col0", "boolean"), ("_col1", "boolean")],
        [["true", "false"]],
        [[True, False]],
    ),
    "array_join": Case(
        "SELECT array_join(ARRAY['a', 'b', 'c'], '-')",
        [("_col0", "varchar")],
        [["a-b-c"]],
        [["a-b-c"]],
    ),
    "json_extract_scalar": Case(
        """SELECT json_extract_scalar('{"a": {"b": 42}}', '$.a.b')""",
        [("_col0", "varchar")],
        [["42"]],
        [["42"]],
    ),
    "json_extract is json": Case(
        """SELECT json_extract('{"a": {"b": [1, 2]}}', '$.a')""",
        [("_col0", "json")],
        [['{"b":[1,2]}']],
        [[{"b": [1, 2]}]],
    ),
    "json_parse, json_format, json_array_length": Case(
        """SELECT json_parse('{"x": 1}'), json_format(json_parse('[1, 2]')),
                  json_array_length('[1, 2, 3]')""",
        [("_col0", "json"), ("_col1", "varchar"), ("_col2", "bigint")],
        [['{"x":1}', "[1,2]", "3"]],
        [[{"x": 1}, "[1,2]", 3]],
    ),
    "date_parse": Case(
        "SELECT date_parse('2024-03-05 10:20:30', '%Y-%m-%d %H:%i:%s')",
        [("_col0", "timestamp")],
        [["2024-03-05 10:20:30.000"]],
        [["2024-03-05 10:20:30.000"]],
    ),
    "date_add to a date is a date": Case(
        "SELECT date_add('day', 30, DATE '2024-01-15'), date_add('month', 1, DATE '2024-01-31')",
        [("_col0", "date"), ("_col1", "date")],
        [["2024-02-14", "2024-02-29"]],
        [["2024-02-14", "2024-02-29"]],
    ),
    "date_diff": Case(
        "SELECT date_diff('day', DATE '2024-01-01', DATE '2024-03-01')",
        [("_col0", "bigint")],
        [["60"]],
        [[60]],
    ),
    "date_trunc of a timestamp": Case(
        "SELECT date_trunc('month', TIMESTAMP '2024-05-17 12:34:56')",
        [("_col0", "timestamp")],
        [["2024-05-01 00:00:00.000"]],
        [["2024-05-01 00:00:00.000"]],
    ),
    "date_trunc of a date column is a date": Case(
        f"SELECT date_trunc('month', \"date\") AS m FROM {T} WHERE id = 'b'",
        [("m", "date")],
        [["2024-01-01"]],
        [["2024-01-01"]],
    ),
    "a date column plus an interval is a date": Case(
        f"SELECT \"date\" + INTERVAL '1' DAY AS next_day FROM {T} WHERE id = 'c'",
        [("next_day", "date")],
        [["2024-01-04"]],
        [["2024-01-04"]],
    ),
    "year, month, day_of_week": Case(
        "SELECT year(DATE '2024-02-29'), month(DATE '2024-02-29'), day_of_week(DATE '2024-02-29')",
        [("_col0", "bigint"), ("_col1", "bigint"), ("_col2", "bigint")],
        [["2024", "2", "4"]],
        [[2024, 2, 4]],
    ),
    "to_unixtime and from_unixtime": Case(
        "SELECT to_unixtime(TIMESTAMP '2024-01-01 00:00:00'), from_unixtime(0)",
        [("_col0", "double"), ("_col1", "timestamp with time zone")],
        [["1.7040672E9", "1970-01-01 00:00:00.000 UTC"]],
        [[1704067200.0, "1970-01-01 00:00:00.000 UTC"]],
    ),
    "timestamps render with milliseconds": Case(
        "SELECT TIMESTAMP '2024-01-01 00:00:00' AS ts,"
        " CAST('2024-01-01 12:34:56.789' AS timestamp) AS ms",
        [("ts", "timestamp"), ("ms", "timestamp")],
        [["2024-01-01 00:00:00.000", "2024-01-01 12:34:56.789"]],
        [["2024-01-01 00:00:00.000", "2024-01-01 12:34:56.789"]],
    ),
    "sequence, cardinality, element_at": Case(
        "SELECT sequence(1, 5), cardinality(ARRAY[1, 2, 3]), element_at(ARRAY['x', 'y'], 2)",
        [("_col0", "array"), ("_col1", "bigint"), ("_col2", "varchar")],
        [["[1, 2, 3, 4, 5]", "3", "y"]],
        [["[1, 2, 3, 4, 5]", 3, "y"]],
    ),
    "transform and filter with lambdas": Case(
        "SELECT transform(ARRAY[1, 2, 3], x -> x * 10), filter(ARRAY[1, 2, 3, 4], x -> x % 2 = 0)",
        [("_col0", "array"), ("_col1", "array")],
        [["[10, 20, 30]", "[2, 4]"]],
        [["[10, 20, 30]", "[2, 4]"]],
    ),
    "arrays of strings, nulls, decimals, dates and timestamps": Case(
        "SELECT split('a,b,c', ','), ARRAY[1, NULL, 3], ARRAY[1.5, 2.0],"
        " ARRAY[DATE '2024-01-01'], ARRAY[TIMESTAMP '2024-01-01 00:00:00']",
        [
            ("_col0", "array"),
            ("_col1", "array"),
            ("_col2", "array"),
            ("_col3", "array"),
            ("_col4", "array"),
        ],
        [["[a, b, c]", "[1, null, 3]", "[1.5, 2.0]", "[2024-01-01]", "[2024-01-01 00:00:00.000]"]],
        [["[a, b, c]", "[1, null, 3]", "[1.5, 2.0]", "[2024-01-01]", "[2024-01-01 00:00:00.000]"]],
    ),
    "maps and rows": Case(
        "SELECT map(ARRAY['a', 'b'], ARRAY[1, 2]),"
        " CAST(ROW(1, 'x') AS ROW(id integer, name varchar)), ROW(1, 'x')",
        [("_col0", "map"), ("_col1", "row"), ("_col2", "row")],
        [["{a=1, b=2}", "{id=1, name=x}", "{field0=1, field1=x}"]],
        [["{a=1, b=2}", "{id=1, name=x}", "{field0=1, field1=x}"]],
    ),
    "unnest": Case(
        "SELECT n FROM UNNEST(ARRAY[3, 1, 2]) AS t(n) ORDER BY n",
        [("n", "integer")],
        [["1"], ["2"], ["3"]],
        [[1], [2], [3]],
    ),
    "unnest with ordinality": Case(
        "SELECT letter, position"
        " FROM UNNEST(ARRAY['a', 'b']) WITH ORDINALITY AS t(letter, position)",
        [("letter", "varchar"), ("position", "bigint")],
        [["a", "1"], ["b", "2"]],
        [["a", 1], ["b", 2]],
    ),
    "cross join unnest against the table": Case(
        f"SELECT id, tag FROM {T} CROSS JOIN UNNEST(ARRAY['x', 'y']) AS t(tag)"
        " WHERE id = 'a' ORDER BY tag",
        [("id", "varchar"), ("tag", "varchar")],
        [["a", "x"], ["a", "y"]],
        [["a", "x"], ["a", "y"]],
    ),
    "array_agg with order": Case(
        f"SELECT array_agg(id ORDER BY id) FROM {T}",
        [("_col0", "array")],
        [["[a, b, c]"]],
        [["[a, b, c]"]],
    ),
    "common table expression": Case(
        f'WITH rows AS (SELECT id, "value" FROM {T}) SELECT count(*) AS n, max("value") AS top'
        " FROM rows",
        [("n", "bigint"), ("top", "double")],
        [["3", "75.0"]],
        [[3, 75.0]],
    ),
    "window functions": Case(
        'SELECT id, row_number() OVER (ORDER BY "value" DESC) AS rank,'
        f' sum("value") OVER (ORDER BY id) AS running FROM {T} ORDER BY id',
        [("id", "varchar"), ("rank", "bigint"), ("running", "double")],
        [["a", "2", "17.0"], ["b", "1", "92.0"], ["c", "3", "42.0"]],
        [["a", 2, 17.0], ["b", 1, 92.0], ["c", 3, 42.0]],
    ),
    "lag over a window": Case(
        f"SELECT id, lag(id) OVER (ORDER BY id) AS prev FROM {T} ORDER BY id",
        [("id", "varchar"), ("prev", "varchar")],
        [["a", None], ["b", "a"], ["c", "b"]],
        [["a", None], ["b", "a"], ["c", "b"]],
    ),
    "group by rollup": Case(
        f'SELECT id, sum("value") AS total FROM {T} GROUP BY ROLLUP (id) ORDER BY id NULLS LAST',
        [("id", "varchar"), ("total", "double")],
        [["a", "17.0"], ["b", "75.0"], ["c", "-50.0"], [None, "42.0"]],
        [["a", 17.0], ["b", 75.0], ["c", -50.0], [None, 42.0]],
    ),
    "string functions": Case(
        "SELECT lower('HÉLLO'), length('héllo'), reverse('abc'), lpad('7', 3, '0'),"
        " substr('hello', 2, 3), strpos('hello', 'l'), replace('aaa', 'a', 'b'), trim('  x  ')",
        [
            ("_col0", "varchar"),
            ("_col1", "bigint"),
            ("_col2", "varchar"),
            ("_col3", "varchar"),
            ("_col4", "varchar"),
            ("_col5", "bigint"),
            ("_col6", "varchar"),
            ("_col7", "varchar"),
        ],
        [["héllo", "5", "cba", "007", "ell", "3", "bbb", "x"]],
        [["héllo", 5, "cba", "007", "ell", 3, "bbb", "x"]],
    ),
    "concatenation": Case(
        "SELECT concat('a', 'b', 'c'), 'x' || 'y'",
        [("_col0", "varchar"), ("_col1", "varchar")],
        [["abc", "xy"]],
        [["abc", "xy"]],
    ),
    "regexp_extract and regexp_replace": Case(
        "SELECT regexp_extract('order-1234-x', '[0-9]+'), regexp_replace('a1b2', '[0-9]', '#')",
        [("_col0", "varchar"), ("_col1", "varchar")],
        [["1234", "a#b#"]],
        [["1234", "a#b#"]],
    ),
    "format with Java specifiers": Case(
        "SELECT format('%s-%s %05d', 'a', 1, 42)",
        [("_col0", "varchar")],
        [["a-1 00042"]],
        [["a-1 00042"]],
    ),
    "unicode": Case(
        "SELECT 'żółw 🐢' AS s, length('żółw 🐢') AS n, upper('żółw') AS u",
        [("s", "varchar"), ("n", "bigint"), ("u", "varchar")],
        [["żółw 🐢", "6", "ŻÓŁW"]],
        [["żółw 🐢", 6, "ŻÓŁW"]],
    ),
    "casts": Case(
        "SELECT CAST('42' AS integer), CAST(42 AS varchar), CAST('2024-01-02' AS date),"
        " CAST(1.5 AS double), CAST('true' AS boolean)",
        [
            ("_col0", "integer"),
            ("_col1", "varchar"),
            ("_col2", "date"),
            ("_col3", "double"),
            ("_col4", "boolean"),
        ],
        [["42", "42", "2024-01-02", "1.5", "true"]],
        [[42, "42", "2024-01-02", 1.5, True]],
    ),
    "small integer and real types": Case(
        "SELECT CAST(1 AS tinyint), CAST(1 AS smallint), CAST(1.5 AS real)",
        [("_col0", "tinyint"), ("_col1", "smallint"), ("_col2", "float")],
        [["1", "1", "1.5"]],
        [[1, 1, 1.5]],
    ),
    "try_cast": Case(
        "SELECT try_cast('x' AS integer), try_cast('7' AS bigint)",
        [("_col0", "integer"), ("_col1", "bigint")],
        [[None, "7"]],
        [[None, 7]],
    ),
    "nulls": Case(
        "SELECT NULL, coalesce(NULL, 'fallback'), nullif(1, 1), NULL IS NULL",
        [("_col0", "unknown"), ("_col1", "varchar"), ("_col2", "integer"), ("_col3", "boolean")],
        [[None, "fallback", None, "true"]],
        [[None, "fallback", None, True]],
    ),
    "aggregates skip nulls": Case(
        "SELECT count(x), count(*), sum(x), avg(x) FROM (VALUES 1, NULL, 3) AS t(x)",
        [("_col0", "bigint"), ("_col1", "bigint"), ("_col2", "bigint"), ("_col3", "double")],
        [["2", "3", "4", "2.0"]],
        [[2, 3, 4, 2.0]],
    ),
    "booleans": Case(
        "SELECT true, 1 < 2 AND NULL IS NULL, NOT true",
        [("_col0", "boolean"), ("_col1", "boolean"), ("_col2", "boolean")],
        [["true", "true", "false"]],
        [[True, True, False]],
    ),
    "case and if": Case(
        "SELECT if(id = 'a', 'first', 'other') AS kind,"
        f" CASE WHEN \"value\" > 0 THEN 'pos' ELSE 'neg' END FROM {T} ORDER BY id",
        [("kind", "varchar"), ("_col1", "varchar")],
        [["first", "pos"], ["other", "pos"], ["other", "neg"]],
        [["first", "pos"], ["other", "pos"], ["other", "neg"]],
    ),
    "integer division truncates": Case(
        "SELECT 7 / 2, -7 / 2, CAST(7 AS double) / 2, 7 % 3",
        [("_col0", "integer"), ("_col1", "integer"), ("_col2", "double"), ("_col3", "integer")],
        [["3", "-3", "3.5", "1"]],
        [[3, -3, 3.5, 1]],
    ),
    "bigint arithmetic beyond integer": Case(
        "SELECT CAST(2147483647 AS bigint) + 1, 9223372036854775807",
        [("_col0", "bigint"), ("_col1", "bigint")],
        [["2147483648", "9223372036854775807"]],
        [[2147483648, 9223372036854775807]],
    ),
    "decimals stay exact": Case(
        "SELECT CAST('12.50' AS decimal(10, 2)) AS price,"
        " CAST('12.50' AS decimal(10, 2)) * 2 AS doubled, 0.1 + 0.2 AS exact",
        [("price", "decimal"), ("doubled", "decimal"), ("exact", "decimal")],
        [["12.50", "25.00", "0.3"]],
        [["12.50", "25.00", "0.3"]],
        precision=[(0, 10, 2)],
    ),
    "doubles as Java prints them": Case(
        "SELECT CAST(12345678.9 AS double), CAST(0.0001 AS double), nan(), infinity()",
        [("_col0", "double"), ("_col1", "double"), ("_col2", "double"), ("_col3", "double")],
        [["1.23456789E7", "1.0E-4", "NaN", "Infinity"]],
        [[12345678.9, 0.0001, "NaN", "Infinity"]],
    ),
}

REFUSALS: dict[str, Refusal] = {
    "a function Athena does not have": Refusal(
        "SELECT no_such_function(1)", "FUNCTION_NOT_FOUND", 1303
    ),
    "a function sqlglot cannot translate": Refusal(
        "SELECT reduce(ARRAY[1, 2], 0, (s, x) -> s + x, s -> s * 10)", "NOT_SUPPORTED", 1200
    ),
    "a syntax error": Refusal("SELECT FROM WHERE", "SYNTAX_ERROR", 1006),
    "two statements": Refusal("SELECT 1; SELECT 2", "SYNTAX_ERROR", 1006),
    "integer overflow": Refusal("SELECT 2147483647 + 1", "NUMERIC_VALUE_OUT_OF_RANGE", 1001),
    "bigint overflow": Refusal(
        "SELECT 9223372036854775807 + 1", "NUMERIC_VALUE_OUT_OF_RANGE", 1001
    ),
    "division by zero": Refusal("SELECT 1 / 0", "DIVISION_BY_ZERO", 1001),
    "a bad cast": Refusal("SELECT CAST('x' AS integer)", "INVALID_CAST_ARGUMENT", 1001),
    "an unknown column": Refusal(f"SELECT nope FROM {T}", "COLUMN_NOT_FOUND", 1000),
    "an unknown table": Refusal('SELECT * FROM "demo_db"."nope"', "TABLE_NOT_FOUND", 1110),
}


@pytest.fixture(scope="module")
def athena() -> Iterator[LocalAthena]:
    flags = ("--queue-delay", "0", "--run-time", "0")
    with running_local_athena(REPO_ROOT / "data", *flags) as server:
        yield server


@pytest.fixture(scope="module")
def client(athena: LocalAthena) -> AthenaClient:
    return athena.client()


def finished(client: AthenaClient, sql: str) -> dict[str, Any]:
    execution_id = client.start_query_execution(QueryString=sql)["QueryExecutionId"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if execution["Status"]["State"] in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            return dict(execution)
        time.sleep(0.01)
    raise AssertionError(f"{sql!r} did not finish within 20 s")


def same_json(left: Any, right: Any) -> bool:
    """Equality, with NaN equal to NaN and an int never equal to a float or a bool."""
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    return type(left) is type(right) and left == right


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_athena_sql_answers_as_athena_does(client: AthenaClient, case: Case) -> None:
    execution = finished(client, case.sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    results = client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    columns = results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    header, *rows = [
        [d.get("VarCharValue") for d in r["Data"]] for r in results["ResultSet"]["Rows"]
    ]
    assert [(c["Label"], c["Type"]) for c in columns] == case.columns
    assert [c["Name"] for c in columns] == header == [label for label, _ in case.columns]
    for column in columns:
        assert column["Nullable"] == "UNKNOWN"
        if column["Type"] in FIXED_PRECISION:
            assert (column["Precision"], column["Scale"]) == (FIXED_PRECISION[column["Type"]], 0)
    for index, precision, scale in case.precision:
        assert (columns[index]["Precision"], columns[index]["Scale"]) == (precision, scale)
    assert rows == case.rows
    types = [athena_type for _, athena_type in case.columns]
    decoded = [[decode_cell(t, cell) for t, cell in zip(types, row, strict=True)] for row in rows]
    assert len(decoded) == len(case.decoded)
    for got_row, want_row in zip(decoded, case.decoded, strict=True):
        assert all(same_json(g, w) for g, w in zip(got_row, want_row, strict=True)), (
            got_row,
            want_row,
        )


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_what_athena_refuses_fails_cleanly(client: AthenaClient, refusal: Refusal) -> None:
    status = finished(client, refusal.sql)["Status"]
    assert status["State"] == "FAILED"
    reason = status["StateChangeReason"]
    assert reason.startswith(f"{refusal.name}: "), reason
    assert status["AthenaError"] == {
        "ErrorCategory": 2,
        "ErrorType": refusal.error_type,
        "Retryable": False,
        "ErrorMessage": reason,
    }


def test_the_battery_is_at_least_forty_cases() -> None:
    assert len(CASES) + len(REFUSALS) >= 40
