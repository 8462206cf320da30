"""The one source of truth for the demo table: read by the CDK Glue table and the local Athena."""

import json
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


class TableSchema(BaseModel):
    database: str
    table: str
    format: Literal["jsonl"]
    columns: list[Column]


def load_schema(path: Path = SCHEMA_FILE) -> TableSchema:
    return TableSchema.model_validate(json.loads(path.read_text()))
