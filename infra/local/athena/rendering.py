"""DuckDB results as Athena shows them: Trino type names and values rendered as strings."""

import datetime as dt
import math
import struct
import uuid
from decimal import Decimal
from typing import Any

import duckdb

# DuckDB type ids to the names Athena puts in ColumnInfo.Type.
_ATHENA_TYPES = {
    "varchar": "varchar",
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    # DuckDB widens sums of integers to 128 bits; Trino keeps them bigint.
    "hugeint": "bigint",
    "utinyint": "smallint",
    "usmallint": "integer",
    "uinteger": "bigint",
    "ubigint": "bigint",
    "uhugeint": "bigint",
    "float": "float",
    "double": "double",
    "decimal": "decimal",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamp_s": "timestamp",
    "timestamp_ms": "timestamp",
    "timestamp_ns": "timestamp",
    "timestamp with time zone": "timestamp with time zone",
    "time with time zone": "time with time zone",
    "interval": "interval day to second",
    "blob": "varbinary",
    "uuid": "uuid",
    "list": "array",
    "array": "array",
    "struct": "row",
    "map": "map",
    "null": "unknown",
}
_PRECISION = {"varchar": 2147483647, "bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3}
_PRECISION |= {"double": 17, "float": 7, "timestamp": 3, "varbinary": 1073741824}
_PRECISION |= {"timestamp with time zone": 3}


def athena_type_of(duck_type: duckdb.sqltypes.DuckDBPyType) -> str:
    # DuckDB's JSON is a VARCHAR with an alias; Trino's json is a type of its own.
    if str(duck_type) == "JSON":
        return "json"
    return _ATHENA_TYPES.get(duck_type.id, "varchar")


def column_info(name: str, duck_type: duckdb.sqltypes.DuckDBPyType) -> dict[str, Any]:
    athena_type = athena_type_of(duck_type)
    precision, scale = _PRECISION.get(athena_type, 0), 0
    if athena_type == "decimal":
        parameters = dict(duck_type.children)  # [("precision", p), ("scale", s)]
        precision, scale = int(str(parameters["precision"])), int(str(parameters["scale"]))
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": athena_type,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": athena_type == "varchar",
    }


def row_data(values: tuple[Any, ...], athena_types: list[str]) -> list[dict[str, str]]:
    """One Athena Row; a NULL is a Datum without VarCharValue, exactly as Athena sends it."""
    data: list[dict[str, str]] = []
    for value, athena_type in zip(values, athena_types, strict=True):
        if value is None:
            data.append({})
            continue
        if athena_type == "float":
            value = float32(value)
        data.append({"VarCharValue": render(value)})
    return data


def render(value: Any) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case int() | str():
            return str(value)
        case float():
            return java_double(value)
        case Decimal():
            return format(value, "f")
        case dt.datetime():
            text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
            return text if value.tzinfo is None else f"{text} {value.tzname() or 'UTC'}"
        case dt.date():
            return value.isoformat()
        case dt.time():
            return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        case dt.timedelta():
            hours, rest = divmod(value.seconds, 3600)
            millis = value.microseconds // 1000
            return f"{value.days} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{millis:03d}"
        case bytes():
            return " ".join(f"{byte:02x}" for byte in value)
        case uuid.UUID():
            return str(value)
        case list() | tuple():
            return "[" + ", ".join(_nested(item) for item in value) + "]"
        case dict():
            return "{" + ", ".join(f"{_nested(k)}={_nested(v)}" for k, v in value.items()) + "}"
    return str(value)


def _nested(value: Any) -> str:
    return "null" if value is None else render(value)


def java_double(value: float) -> str:
    """Java's Double.toString, which is what Athena prints: 42.0, 1.0E-4, 1.2345678E7."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python's shortest form is positional in this range, like Java's
    shortest = Decimal(repr(value))
    digits = "".join(map(str, shortest.as_tuple().digits)).rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{shortest.adjusted()}"


def float32(value: float) -> float:
    """The shortest decimal that is still the same 32-bit float, as Java's Float.toString."""
    for precision in range(1, 10):
        candidate = float(f"{value:.{precision}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == value:
            return candidate
    return value
