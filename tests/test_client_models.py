"""The client keeps its own copy of the contract's models (poller/models.py: the client
imports nothing of the service). This keeps the copy true: every field of the service's
QueryResult, in its order, and a result the service builds reads back the same. The copy may
run ahead (a field the service is about to gain); it may not fall behind."""

import json
from datetime import UTC, datetime

from pydantic import BaseModel

from poller import models as client
from service import models as service
from service.promisify import record


def in_order(copy: list[str], original: list[str]) -> list[str]:
    """The copy's fields that the original has, in the copy's order."""
    return [name for name in copy if name in original]


def test_the_client_result_has_every_field_of_the_service_result_in_order() -> None:
    pairs: list[tuple[type[BaseModel], type[BaseModel]]] = [
        (client.QueryResult, service.QueryResult),
        (client.QueryStatistics, service.QueryStatistics),
        (client.Column, service.Column),
    ]
    for ours, theirs in pairs:
        original = list(theirs.model_fields)
        assert in_order(list(ours.model_fields), original) == original, ours.__name__


def test_the_client_request_has_every_field_of_the_service_request() -> None:
    original = list(service.QueryRequest.model_fields)
    assert in_order(list(client.QueryRequest.__dataclass_fields__), original) == original


def test_a_service_result_reads_back_the_same() -> None:
    built = service.QueryResult(
        invocation_id="inv_1",
        query_execution_id="qe",
        query="SELECT 1",
        state="FAILED",
        columns=[service.Column(name="x", type="decimal(10,2)")],
        rows=[["1.50"], [None]],
        row_count=2,
        truncated=True,
        output_location="s3://b/k",
        statistics=service.QueryStatistics(data_scanned_bytes=10),
        error="boom",
        submitted_at=datetime(2026, 12, 1, tzinfo=UTC),
        completed_at=datetime(2026, 12, 1, 0, 1, tzinfo=UTC),
        parameters=["O'Brien", 1, 1.5, True],
        error_category="USER",
        error_type=1006,
        error_retryable=False,
    )
    body = built.model_dump_json().encode()
    read = client.QueryResult.from_bytes(body)
    assert read.received == body
    shown = read.model_dump(mode="json", include=set(service.QueryResult.model_fields))
    assert shown == json.loads(body)


def test_the_client_status_reads_every_field_status_shows() -> None:
    shown = {"subject": "query", "job_id": "query_execution_id", "job_state": "athena_state"}
    shown["progress"] = "rows_fetched"
    internal = {"run_id", "watched_by"}
    status_fields = {shown.get(name, name) for name in record.PromiseStatus.model_fields}
    assert status_fields - internal <= set(client.PromiseStatus.model_fields)
