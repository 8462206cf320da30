"""The client keeps its own copy of the contract's models (poller/models.py: the client
imports nothing of the service). This keeps the copy true: every field of the service's
QueryResult, in its order, and a result the service builds reads back the same."""

from datetime import UTC, datetime

from poller import models as client
from service import models as service
from service.promisify import record


def test_the_client_result_has_every_field_of_the_service_result_in_order() -> None:
    assert list(client.QueryResult.model_fields) == list(service.QueryResult.model_fields)
    assert list(client.QueryStatistics.model_fields) == list(service.QueryStatistics.model_fields)
    assert list(client.Column.model_fields) == list(service.Column.model_fields)


def test_the_client_request_has_every_field_of_the_service_request() -> None:
    fields = list(client.QueryRequest.__dataclass_fields__)
    assert fields == list(service.QueryRequest.model_fields)


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
    assert read.model_dump_json().encode() == body and read.received == body


def test_the_client_status_reads_every_field_status_shows() -> None:
    shown = {"subject": "query", "job_id": "query_execution_id", "job_state": "athena_state"}
    shown["progress"] = "rows_fetched"
    internal = {"run_id", "watched_by"}
    status_fields = {shown.get(name, name) for name in record.PromiseStatus.model_fields}
    assert status_fields - internal <= set(client.PromiseStatus.model_fields)
