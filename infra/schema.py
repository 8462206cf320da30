"""The one source of truth for the tables: read by the CDK Glue table and the local Athena.

`data/schema.json` is the demo table (`demo_db."table"`, over `data/*.jsonl`). Each further
database is a folder, `data/<database>/`, holding each of its tables as `<table>.jsonl` with
the schema beside it, `<table>.schema.json` (the same shape, naming its database and, outside
the account's own catalog, its catalog).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SCHEMA_FILE = DATA_DIR / "schema.json"

# Hive/Glue column types the demo table may use.
ColumnType = Literal["string", "date", "double", "bigint", "int", "boolean", "timestamp"]


class Column(BaseModel):
    name: str
    type: ColumnType
    comment: str = ""


# Athena's (Trino's) name for the account's Glue Data Catalog (the API says AwsDataCatalog).
DEFAULT_CATALOG = "awsdatacatalog"
SCHEMA_SUFFIX = ".schema.json"


class TableSchema(BaseModel):
    catalog: str = DEFAULT_CATALOG
    database: str
    table: str
    format: Literal["jsonl"]
    columns: list[Column]


def load_schema(path: Path = SCHEMA_FILE) -> TableSchema:
    return TableSchema.model_validate(json.loads(path.read_text()))


@dataclass(frozen=True)
class DataTable:
    """One table and the JSON Lines files it reads."""

    schema: TableSchema
    files: str  # a glob


def find_tables(data_dir: Path, demo_schema: Path = SCHEMA_FILE) -> list[DataTable]:
    """The demo table over `data_dir/*.jsonl`, then every `data_dir/<database>/<t>.schema.json`
    over the `<t>.jsonl` beside it. ValueError when a schema is not where its names say."""
    tables = [DataTable(load_schema(demo_schema), str(data_dir / "*.jsonl"))]
    for path in sorted(data_dir.glob(f"*/*{SCHEMA_SUFFIX}")):
        schema = load_schema(path)
        table_name = path.name.removesuffix(SCHEMA_SUFFIX)
        if (schema.database, schema.table) != (path.parent.name, table_name):
            raise ValueError(
                f"{path}: it describes {schema.database}.{schema.table}; a table's schema is "
                "data/<database>/<table>.schema.json"
            )
        tables.append(DataTable(schema, str(path.with_name(f"{table_name}.jsonl"))))
    return tables
