"""The read-only calls clients make around queries: the AWS CLI's `list-query-executions` and
`get-work-group`, and the catalog calls SQLAlchemy's reflection (PyAthena) makes.

Each takes the request body and returns the response body, like the query operations; lists
are paged with `MaxResults` (at most 50) and an opaque `NextToken`, as Athena pages them.
"""

import base64
import binascii
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from infra.schema import DataTable

from .protocol import (
    GetTableMetadataRequest,
    ListDatabasesRequest,
    ListQueryExecutionsRequest,
    ListRequest,
    ListTableMetadataRequest,
    WorkGroupRequest,
    invalid_request,
    metadata_error,
    parse_request,
)
from .workgroups import _CREATED

if TYPE_CHECKING:
    from .operations import Athena

T = TypeVar("T")


def _page(items: Sequence[T], request: ListRequest, kind: str) -> tuple[list[T], str | None]:
    start = 0
    if request.next_token:
        try:
            token_kind, _, offset = (
                base64.urlsafe_b64decode(request.next_token).decode().partition(":")
            )
            if token_kind != kind or not offset.isdigit():
                raise ValueError(token_kind)
            start = int(offset)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise invalid_request(
                "The NextToken is not valid; pass one this call returned."
            ) from None
    size = request.max_results or 50
    end = start + size
    token = (
        base64.urlsafe_b64encode(f"{kind}:{end}".encode()).decode() if end < len(items) else None
    )
    return list(items[start:end]), token


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**body, "NextToken": token} if token else body


async def list_query_executions(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ListQueryExecutionsRequest, body)
    athena.executions.workgroups.get(request.work_group)
    newest_first = sorted(
        (e for e in athena.executions.all() if e.work_group == request.work_group),
        key=lambda e: e.submitted_at,
        reverse=True,
    )
    page, token = _page([e.id for e in newest_first], request, "executions")
    return _with_token({"QueryExecutionIds": page}, token)


async def get_work_group(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(WorkGroupRequest, body)
    return {"WorkGroup": athena.executions.workgroups.get(request.work_group).shape()}


async def list_work_groups(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ListRequest, body)
    workgroups = [w.summary() for w in athena.executions.workgroups.workgroups]
    page, token = _page(workgroups, request, "workgroups")
    return _with_token({"WorkGroups": page}, token)


async def list_data_catalogs(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ListRequest, body)
    summaries = [
        {"CatalogName": _api_name(name), "Type": "GLUE" if name == "awsdatacatalog" else "HIVE"}
        for name in athena.engine.catalogs
    ]
    page, token = _page(summaries, request, "catalogs")
    return _with_token({"DataCatalogsSummary": page}, token)


def _api_name(catalog: str) -> str:
    return "AwsDataCatalog" if catalog == "awsdatacatalog" else catalog


def _databases(athena: "Athena", catalog: str) -> dict[str, list[DataTable]]:
    databases = athena.engine.catalogs.get(catalog.lower())
    if databases is None:
        raise metadata_error(f"Catalog {catalog} was not found.")
    return databases


def _tables(athena: "Athena", catalog: str, database: str) -> list[DataTable]:
    tables = _databases(athena, catalog).get(database.lower())
    if tables is None:
        raise metadata_error(f"Database {database} was not found in catalog {catalog}.")
    return tables


async def list_databases(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ListDatabasesRequest, body)
    names = sorted(_databases(athena, request.catalog_name))
    page, token = _page(names, request, "databases")
    return _with_token({"DatabaseList": [{"Name": n, "Parameters": {}} for n in page]}, token)


async def list_table_metadata(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ListTableMetadataRequest, body)
    tables = sorted(
        _tables(athena, request.catalog_name, request.database_name),
        key=lambda t: t.schema.table,
    )
    if request.expression:
        try:
            pattern = re.compile(request.expression)
        except re.error as error:
            raise invalid_request(
                f"Expression is not a valid regular expression: {error}"
            ) from None
        tables = [t for t in tables if pattern.fullmatch(t.schema.table)]
    page, token = _page(tables, request, "tables")
    return _with_token({"TableMetadataList": [_table_metadata(t) for t in page]}, token)


async def get_table_metadata(athena: "Athena", body: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(GetTableMetadataRequest, body)
    for table in _tables(athena, request.catalog_name, request.database_name):
        if table.schema.table == request.table_name.lower():
            return {"TableMetadata": _table_metadata(table)}
    raise metadata_error(
        f"Table {request.table_name} was not found in database {request.database_name}."
    )


def _table_metadata(table: DataTable) -> dict[str, Any]:
    """Glue's view of the table, as Athena returns it (Hive types, a JSON SerDe)."""
    schema = table.schema
    return {
        "Name": schema.table,
        "CreateTime": _CREATED,
        "LastAccessTime": 0,
        "TableType": "EXTERNAL_TABLE",
        "Columns": [{"Name": c.name, "Type": c.type, "Comment": c.comment} for c in schema.columns],
        "PartitionKeys": [],
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "json",
            "inputformat": "org.apache.hadoop.mapred.TextInputFormat",
            "serde.serialization.lib": "org.openx.data.jsonserde.JsonSerDe",
        },
    }


LISTINGS = {
    "ListQueryExecutions": list_query_executions,
    "GetWorkGroup": get_work_group,
    "ListWorkGroups": list_work_groups,
    "ListDataCatalogs": list_data_catalogs,
    "ListDatabases": list_databases,
    "ListTableMetadata": list_table_metadata,
    "GetTableMetadata": get_table_metadata,
}
