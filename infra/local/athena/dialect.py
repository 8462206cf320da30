"""Athena's SQL (Trino) translated to DuckDB's by sqlglot, with Athena's column labels.

sqlglot does the translation; this module only adds what Athena's semantics need on top:
- unaliased select items are labelled `_col0`, `_col1`, ... by their output position, as
  Athena labels them (DuckDB would use the expression's text);
- date arithmetic on a DATE stays a DATE (DuckDB widens `date + interval` to TIMESTAMP);
- an anonymous `ROW(1, 'a')` has Trino's field names `field0`, `field1` (sqlglot says `_0`);
- Trino's `nan()` and `infinity()` become DuckDB's double literals (sqlglot leaves them as is);
- `format` (Java's format strings) becomes DuckDB's `printf`: sqlglot 30 passes it to DuckDB's
  `format`, whose `{}` placeholders leave `%s` untouched and so give a wrong answer silently;
- a statement sqlglot cannot parse, or cannot express in DuckDB, fails the way Athena fails.
Integer division (`7 / 2` is 3 in Trino) is DuckDB's `integer_division` setting, in engine.py.

Queries run in threads, and sqlglot loads a dialect's module on first use: a thread can find
the dialect registered before its module has finished loading, and fail a valid query with
`NameError: name '_TrinoTokenizer' is not defined` (seen when a fresh local Athena got 30
queries at once: one came back FAILED, HTTP 200 with no rows). So one translation runs at a
time (it holds the GIL anyway), and `load_dialects` loads both before the first query.
"""

import re
import threading
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types

from .failures import NOT_SUPPORTED_TYPE, SYNTAX_ERROR_TYPE, QueryFailure

READ, WRITE = "athena", "duckdb"
# DuckDB's name for an unaliased item; the engine renames it `_col<position>` afterwards,
# because a `*` before it makes its output position unknown until DuckDB binds the query.
UNNAMED = "__local_athena_unnamed_"
# Units that keep a DATE a DATE in Trino's date_add, date_trunc and interval arithmetic.
_DAY_OR_LONGER = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
# One Java format specifier: `%s`, `%05d`, `%.2f`, `%%`; the group is its conversion letter.
_JAVA_SPEC = re.compile(r"%(?:\d+\$)?[-#+ 0,(]*\d*(?:\.\d+)?([a-zA-Z%])")


@dataclass(frozen=True)
class Translation:
    duckdb_sql: str
    # How many `?` placeholders the statement has: Athena binds ExecutionParameters to them.
    placeholders: int = 0


_TRANSLATING = threading.Lock()


def load_dialects() -> None:
    """Load sqlglot's Athena and DuckDB dialects in this thread, before any query needs them."""
    translate("SELECT 1 AS loaded")


def translate(sql: str, date_columns: frozenset[str] = frozenset()) -> Translation:
    """DuckDB SQL for one Athena statement; raises QueryFailure as Athena would fail it."""
    with _TRANSLATING:
        return _translate(sql, date_columns)


def _translate(sql: str, date_columns: frozenset[str]) -> Translation:
    statement = _parse_one(sql)
    _label_unaliased(statement)
    _keep_dates(statement, date_columns)
    _java_format_as_printf(statement)
    _name_row_fields(statement)
    _special_doubles(statement)
    placeholders = sum(1 for _ in statement.find_all(exp.Placeholder))
    try:
        duckdb_sql = statement.sql(dialect=WRITE, unsupported_level=ErrorLevel.RAISE)
        return Translation(duckdb_sql, placeholders)
    except UnsupportedError as error:
        raise QueryFailure(
            "NOT_SUPPORTED",
            f"line 1:1: {error}",
            error_type=NOT_SUPPORTED_TYPE,
            detail="sqlglot cannot express this in DuckDB; Athena itself may accept it",
        ) from None


# What Athena reads as one literal: a string, a number, a boolean, NULL, a typed literal
# (`DATE '2024-01-01'`, which sqlglot reads as a CAST) or a CAST of one.
_LITERALS = (exp.Literal, exp.Boolean, exp.Null)


def parameter_literal(text: str, position: int) -> str:
    """DuckDB SQL for one ExecutionParameter, which must be a single SQL literal, as Athena
    reads it; raises QueryFailure for anything else (an expression, a column, two statements).
    The engine evaluates it on its own and binds the value: the text never joins the query."""
    name = f"Execution parameter {position + 1}"
    with _TRANSLATING:
        try:
            statements = [s for s in sqlglot.parse(text, read=READ) if s is not None]
        except (ParseError, TokenError) as error:
            raise QueryFailure(
                "SYNTAX_ERROR",
                f"line 1:1: {name} is not a valid SQL literal: {text}",
                error_type=SYNTAX_ERROR_TYPE,
                detail=f"sqlglot: {error}".splitlines()[0],
            ) from None
        if len(statements) != 1 or not _is_literal(statements[0]):
            raise QueryFailure(
                "INVALID_PARAMETER_USAGE",
                f"line 1:1: {name} must be a single SQL literal "
                f"(a quoted string, a number, true, false, NULL or a typed literal): {text}",
            )
        return statements[0].sql(dialect=WRITE)


def _is_literal(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren):
        return _is_literal(node.this)
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal) and not node.this.is_string
    if isinstance(node, exp.Cast):
        return _is_literal(node.this)
    return isinstance(node, _LITERALS)


def _parse_one(sql: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ) if s is not None]
    except TokenError as error:  # an unterminated quote or comment: the user's SQL, not ours
        raise QueryFailure(
            "SYNTAX_ERROR",
            "line 1:1: mismatched input: the statement has an unterminated literal or comment",
            error_type=SYNTAX_ERROR_TYPE,
            detail=f"sqlglot: {error}".splitlines()[0],
        ) from None
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f"line {first.get('line', 1)}:{first.get('col', 1)}: "
        near = first.get("highlight") or ""
        description = first.get("description") or str(error)
        raise QueryFailure(
            "SYNTAX_ERROR",
            f"{where}mismatched input '{near}'" if near else f"{where}{description}",
            error_type=SYNTAX_ERROR_TYPE,
            detail=f"sqlglot: {description}",
        ) from None
    if len(statements) != 1:
        raise QueryFailure(
            "SYNTAX_ERROR",
            f"line 1:1: Only one sql statement is allowed. Got: {len(statements)}",
            error_type=SYNTAX_ERROR_TYPE,
        )
    return statements[0]


def _label_unaliased(statement: exp.Expr) -> None:
    """Alias every item of the outermost select that Trino would not name by a column."""
    query = statement
    while isinstance(query, exp.SetOperation | exp.Subquery):
        query = query.this  # a UNION takes its labels from its first branch
    if not isinstance(query, exp.Select):
        return
    for index, item in enumerate(query.expressions):
        if isinstance(item, exp.Alias | exp.Column | exp.Star):
            continue
        item.replace(exp.alias_(item.copy(), f"{UNNAMED}{index}", quoted=True))


def _is_date(node: exp.Expr, date_columns: frozenset[str]) -> bool:
    if isinstance(node, exp.Column):
        return node.name.lower() in date_columns
    annotated = annotate_types(node.copy(), dialect=READ)
    return annotated.type is not None and annotated.type.this == exp.DataType.Type.DATE


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if unit is not None else ""


def _keep_dates(statement: exp.Expr, date_columns: frozenset[str]) -> None:
    """Cast back to DATE where Trino keeps a DATE and DuckDB would return a TIMESTAMP."""
    for function in list(statement.find_all(exp.DateAdd, exp.DateSub, exp.TimestampTrunc)):
        if _unit(function) in _DAY_OR_LONGER and _is_date(function.this, date_columns):
            _cast_to_date(function)
    for operation in list(statement.find_all(exp.Add, exp.Sub)):
        interval = operation.expression
        if (
            isinstance(interval, exp.Interval)
            and _unit(interval) in _DAY_OR_LONGER
            and _is_date(operation.this, date_columns)
        ):
            _cast_to_date(operation)


def _cast_to_date(node: exp.Expr) -> None:
    node.replace(exp.cast(node.copy(), exp.DataType.build("DATE")))


def _java_format_as_printf(statement: exp.Expr) -> None:
    """`format('%s-%d', a, b)` to `printf`, casting `%s` arguments: Java's %s takes any type."""
    for node in list(statement.find_all(exp.Format)):
        pattern, arguments = node.this, list(node.expressions)
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            letters = [m.group(1) for m in _JAVA_SPEC.finditer(pattern.this) if m.group(1) != "%"]
            for index, letter in enumerate(letters[: len(arguments)]):
                if letter == "s":
                    arguments[index] = exp.cast(arguments[index], exp.DataType.build("VARCHAR"))
        node.replace(exp.Anonymous(this="printf", expressions=[pattern, *arguments]))


def _name_row_fields(statement: exp.Expr) -> None:
    """Trino names an anonymous row's fields field0, field1, ...; a CAST names them itself."""
    for node in list(statement.find_all(exp.Struct)):
        if isinstance(node.parent, exp.Cast) or not node.expressions:
            continue
        if any(isinstance(item, exp.PropertyEQ | exp.Alias) for item in node.expressions):
            continue
        node.set(
            "expressions",
            [
                exp.PropertyEQ(this=exp.to_identifier(f"field{index}"), expression=item)
                for index, item in enumerate(node.expressions)
            ],
        )


_SPECIAL_DOUBLES = {"nan": "NaN", "infinity": "Infinity"}


def _special_doubles(statement: exp.Expr) -> None:
    for node in list(statement.find_all(exp.Anonymous)):
        spelled = _SPECIAL_DOUBLES.get(str(node.name).lower())
        if spelled is not None and not node.expressions:
            node.replace(exp.cast(exp.Literal.string(spelled), exp.DataType.build("DOUBLE")))
