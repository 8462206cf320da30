"""Athena's JSON 1.1 wire protocol: request shapes and AWS-shaped errors."""

import json
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AmazonAthena."

Model = TypeVar("Model", bound=BaseModel)
WORK_GROUP_NAME = r"^[a-zA-Z0-9._-]{1,128}$"


class AthenaServiceError(Exception):
    """An error answered the way AWS answers it, so botocore raises the same ClientError."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def to_response(self, request_id: str) -> web.Response:
        body = {"__type": self.code, "Message": self.message, **self.fields}
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": self.code}
        return json_response(body, request_id, status=self.status, headers=headers)


def invalid_request(message: str) -> AthenaServiceError:
    return AthenaServiceError("InvalidRequestException", message, AthenaErrorCode="INVALID_INPUT")


def metadata_error(message: str) -> AthenaServiceError:
    """What Athena's catalog calls answer for a catalog, database or table that is not there."""
    return AthenaServiceError("MetadataException", message)


def json_response(
    body: dict[str, Any], request_id: str, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        content_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id, **(headers or {})},
    )


class _Request(BaseModel):
    # AWS ignores members it does not model; so do we.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=True)


class ResultReuseByAge(_Request):
    enabled: bool = Field(alias="Enabled")
    # Athena's default is 60 minutes; at most 10,080 (7 days).
    max_age_minutes: int = Field(default=60, alias="MaxAgeInMinutes", ge=0, le=10_080)


class ResultReuseConfiguration(_Request):
    by_age: ResultReuseByAge | None = Field(default=None, alias="ResultReuseByAgeConfiguration")


class StartQueryExecutionRequest(_Request):
    query_string: str = Field(alias="QueryString", min_length=1, max_length=262144)
    client_request_token: str | None = Field(
        None, alias="ClientRequestToken", min_length=32, max_length=128
    )
    query_execution_context: dict[str, str] = Field(default={}, alias="QueryExecutionContext")
    result_configuration: dict[str, Any] = Field(default={}, alias="ResultConfiguration")
    work_group: str = Field(default="primary", alias="WorkGroup", pattern=WORK_GROUP_NAME)
    execution_parameters: list[Annotated[str, Field(min_length=1, max_length=1024)]] | None = Field(
        default=None, alias="ExecutionParameters", min_length=1
    )
    result_reuse_configuration: ResultReuseConfiguration | None = Field(
        default=None, alias="ResultReuseConfiguration"
    )

    @property
    def reuse_max_age_minutes(self) -> int | None:
        """How old a reused result may be; None: no reuse asked."""
        by_age = self.result_reuse_configuration and self.result_reuse_configuration.by_age
        if not by_age or not by_age.enabled:
            return None
        return by_age.max_age_minutes


class ListRequest(_Request):
    next_token: str | None = Field(default=None, alias="NextToken", min_length=1, max_length=1024)
    max_results: int = Field(default=50, alias="MaxResults", ge=0, le=50)


class ListQueryExecutionsRequest(ListRequest):
    work_group: str = Field(default="primary", alias="WorkGroup", pattern=WORK_GROUP_NAME)


class WorkGroupRequest(_Request):
    work_group: str = Field(alias="WorkGroup", pattern=WORK_GROUP_NAME)


class ListDatabasesRequest(ListRequest):
    catalog_name: str = Field(alias="CatalogName", min_length=1, max_length=256)


class ListTableMetadataRequest(ListDatabasesRequest):
    database_name: str = Field(alias="DatabaseName", min_length=1, max_length=128)
    expression: str | None = Field(default=None, alias="Expression", max_length=256)


class GetTableMetadataRequest(_Request):
    catalog_name: str = Field(alias="CatalogName", min_length=1, max_length=256)
    database_name: str = Field(alias="DatabaseName", min_length=1, max_length=128)
    table_name: str = Field(alias="TableName", min_length=1, max_length=128)


class QueryExecutionIdRequest(_Request):
    query_execution_id: str = Field(alias="QueryExecutionId", pattern=r"^\S{1,128}$")


class BatchGetQueryExecutionRequest(_Request):
    query_execution_ids: list[str] = Field(alias="QueryExecutionIds", min_length=1, max_length=50)


# The most rows a GetQueryResults page holds (the header row of a SELECT's first page included).
RESULTS_PAGE_LIMIT = 1000


class GetQueryResultsRequest(QueryExecutionIdRequest):
    next_token: str | None = Field(default=None, alias="NextToken", min_length=1, max_length=1024)
    max_results: int = Field(
        default=RESULTS_PAGE_LIMIT, alias="MaxResults", ge=1, le=RESULTS_PAGE_LIMIT
    )


def parse_request(model: type[Model], body: dict[str, Any]) -> Model:
    """Validate a request body, turning pydantic's report into AWS's sentence style."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = [
            f"Value at '{'.'.join(str(p) for p in e['loc'])}' failed to satisfy constraint: "
            f"{e['msg']}"
            for e in error.errors()
        ]
        count = len(problems)
        raise invalid_request(
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)
        ) from None
