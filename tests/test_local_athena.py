"""The local Athena through an unmodified boto3 client, against a real server process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from infra.local.athena import LocalAthenaConfig, create_app

from .local_athena_support import REPO_ROOT, LocalAthena, running_local_athena

if TYPE_CHECKING:  # the stubs are a dev dependency, needed by mypy only
    from mypy_boto3_athena import AthenaClient

SAMPLE = REPO_ROOT / "data"
pytestmark = pytest.mark.e2e  # a real server process per module (the last test excepted)

DEMO_QUERY = 'SELECT sum("table"."value") AS answer FROM "demo_db"."table"'
FAST = ("--queue-delay", "0.05", "--run-time", "0.2")
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


@pytest.fixture(scope="module")
def athena() -> Iterator[LocalAthena]:
    with running_local_athena(SAMPLE, *FAST) as server:
        yield server


@pytest.fixture(scope="module")
def client(athena: LocalAthena) -> AthenaClient:
    return athena.client()


def generated_data(tmp_path_factory: pytest.TempPathFactory, rows: int) -> Path:
    data_dir = tmp_path_factory.mktemp(f"rows{rows}")
    generate = [sys.executable, str(REPO_ROOT / "data" / "generate.py"), "--rows", str(rows)]
    subprocess.run([*generate, str(data_dir / "generated.jsonl")], check=True)
    return data_dir


def wait_final(client: AthenaClient, execution_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if execution["Status"]["State"] in FINAL:
            return dict(execution)
        time.sleep(0.02)
    raise AssertionError(f"{execution_id} did not finish within {timeout} s")


def run_query(client: AthenaClient, sql: str, **extra: Any) -> dict[str, Any]:
    execution_id = client.start_query_execution(QueryString=sql, **extra)["QueryExecutionId"]
    return wait_final(client, execution_id)


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_demo_query_returns_42(client: AthenaClient) -> None:
    execution = run_query(client, DEMO_QUERY, WorkGroup="primary")
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["StatementType"] == "DML"
    results = client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    header, row = results["ResultSet"]["Rows"]
    assert header["Data"] == [{"VarCharValue": "answer"}]
    assert float(row["Data"][0]["VarCharValue"]) == 42
    (column,) = results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert (column["Name"], column["Type"]) == ("answer", "double")
    assert "NextToken" not in results


def test_default_database_allows_unqualified_table(client: AthenaClient) -> None:
    sql = 'SELECT id, "date", "value", NULL AS nothing FROM "table" ORDER BY id LIMIT 1'
    execution = run_query(client, sql, QueryExecutionContext={"Database": "demo_db"})
    assert execution["QueryExecutionContext"] == {"Database": "demo_db"}
    results = client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    columns = results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [c["Type"] for c in columns] == ["varchar", "date", "double", "unknown"]
    # Athena's renderings: ISO dates, Java doubles, and NULL as a Datum without a value.
    assert results["ResultSet"]["Rows"][1]["Data"] == [
        {"VarCharValue": "a"},
        {"VarCharValue": "2024-01-01"},
        {"VarCharValue": "17.0"},
        {},
    ]


def test_query_walks_queued_running_then_succeeded(client: AthenaClient) -> None:
    sql = f"{DEMO_QUERY}\n-- local-athena: queue_delay_s=0.3 run_time_s=0.6"
    execution_id = client.start_query_execution(QueryString=sql)["QueryExecutionId"]
    states: list[str] = []
    while not states or states[-1] not in FINAL:
        execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if not states or states[-1] != execution["Status"]["State"]:
            states.append(execution["Status"]["State"])
        time.sleep(0.02)
    assert states == ["QUEUED", "RUNNING", "SUCCEEDED"]
    status, stats = execution["Status"], execution["Statistics"]
    assert status["SubmissionDateTime"] < status["CompletionDateTime"]
    assert 250 <= stats["QueryQueueTimeInMillis"] < 1000
    assert 550 <= stats["EngineExecutionTimeInMillis"] < 2000
    assert stats["QueryPlanningTimeInMillis"] <= stats["EngineExecutionTimeInMillis"]
    assert stats["TotalExecutionTimeInMillis"] == (
        stats["QueryQueueTimeInMillis"]
        + stats["EngineExecutionTimeInMillis"]
        + stats["ServiceProcessingTimeInMillis"]
    )
    assert stats["DataScannedInBytes"] == (SAMPLE / "sample.jsonl").stat().st_size
    assert execution["ResultConfiguration"]["OutputLocation"] == (
        f"s3://local-athena-results/{execution_id}.csv"
    )


def test_client_request_token_starts_one_execution(
    athena: LocalAthena, client: AthenaClient
) -> None:
    token = uuid.uuid4().hex
    calls_before = athena.stats()["calls"].get("StartQueryExecution", 0)
    first, again = (
        client.start_query_execution(
            QueryString=DEMO_QUERY,
            ClientRequestToken=token,
            ResultConfiguration={"OutputLocation": "s3://my-bucket/results/"},
        )["QueryExecutionId"]
        for _ in range(2)
    )
    assert first == again
    stats = athena.stats()
    assert stats["calls"]["StartQueryExecution"] == calls_before + 2
    assert stats["executions"][first]["calls"]["StartQueryExecution"] == 1
    assert stats["executions"][first]["query"] == DEMO_QUERY
    execution = wait_final(client, first)
    assert (
        execution["ResultConfiguration"]["OutputLocation"] == f"s3://my-bucket/results/{first}.csv"
    )
    stats = athena.stats()["executions"][first]
    assert stats["state"] == "SUCCEEDED"
    assert stats["calls_before_completion"]["GetQueryExecution"] >= 1
    assert (
        stats["calls"]["GetQueryExecution"] > stats["calls_before_completion"]["GetQueryExecution"]
    )
    with pytest.raises(ClientError) as refused:
        client.start_query_execution(QueryString="SELECT 1", ClientRequestToken=token)
    assert error_code(refused) == "InvalidRequestException"


@pytest.mark.parametrize("rows", [2_500, 100_000])
def test_pages_equal_duckdbs_own_answer(
    tmp_path_factory: pytest.TempPathFactory, rows: int
) -> None:
    data_dir = generated_data(tmp_path_factory, rows)
    expected = (
        duckdb.connect()
        .execute(
            'SELECT id, CAST(CAST("date" AS TIMESTAMP) AS DATE), CAST("value" AS DOUBLE) '
            f"FROM read_json('{data_dir}/*.jsonl', columns = "
            "{'id': 'VARCHAR', 'date': 'VARCHAR', 'value': 'VARCHAR'}) ORDER BY id"
        )
        .fetchall()
    )
    with running_local_athena(data_dir, *FAST) as athena:
        client = athena.client()
        sql = 'SELECT id, "date", "value" FROM "demo_db"."table" ORDER BY id'
        execution_id = run_query(client, sql)["QueryExecutionId"]
        pages = list(
            client.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id)
        )
    assert all(len(page["ResultSet"]["Rows"]) <= 1000 for page in pages)
    assert len(pages) == -(-(rows + 1) // 1000)  # the header row takes a place on page one
    header, *data = [row["Data"] for page in pages for row in page["ResultSet"]["Rows"]]
    assert header == [{"VarCharValue": name} for name in ("id", "date", "value")]
    served = [
        (d[0]["VarCharValue"], d[1]["VarCharValue"], float(d[2]["VarCharValue"])) for d in data
    ]
    assert served == [(i, day.isoformat(), value) for i, day, value in expected]


def test_small_pages_serve_the_same_rows_across_the_first_page(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The first page comes from memory, later ones from DuckDB: pages of 7 rows that cross
    from one to the other give what pages of 1000 give, NULLs as Datums without a value."""
    data_dir = generated_data(tmp_path_factory, 1_200)
    with running_local_athena(data_dir, *FAST) as athena:
        client = athena.client()
        sql = 'SELECT id, NULLIF("value", "value") AS nothing FROM "demo_db"."table" ORDER BY id'
        execution_id = run_query(client, sql)["QueryExecutionId"]

        def rows(page_size: int) -> list[Any]:
            pages = client.get_paginator("get_query_results").paginate(
                QueryExecutionId=execution_id, PaginationConfig={"PageSize": page_size}
            )
            return [row["Data"] for page in pages for row in page["ResultSet"]["Rows"]]

        small, large = rows(7), rows(1000)
    assert len(small) == 1_201 and small == large
    assert all(datum[1] == {} for datum in small[1:])


def test_bad_sql_fails_with_athenas_wording(client: AthenaClient) -> None:
    execution = run_query(client, "SELEC 1")
    status = execution["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith("SYNTAX_ERROR: line 1:")
    assert status["AthenaError"]["ErrorCategory"] == 2
    assert status["AthenaError"]["ErrorType"] == 1006
    assert status["AthenaError"]["ErrorMessage"] == status["StateChangeReason"]
    with pytest.raises(ClientError) as refused:
        client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert error_code(refused) == "InvalidRequestException"


def test_stop_cancels_a_running_query_and_is_idempotent(client: AthenaClient) -> None:
    # A query DuckDB would chew on for minutes: stopping must interrupt the engine too.
    sql = "SELECT count(*) FROM range(100000000000)\n-- local-athena: queue_delay_s=0"
    execution_id = client.start_query_execution(QueryString=sql)["QueryExecutionId"]
    time.sleep(0.3)
    client.stop_query_execution(QueryExecutionId=execution_id)
    execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Status"]["State"] == "CANCELLED"
    client.stop_query_execution(QueryExecutionId=execution_id)
    finished = run_query(client, DEMO_QUERY)
    client.stop_query_execution(QueryExecutionId=finished["QueryExecutionId"])
    assert wait_final(client, finished["QueryExecutionId"])["Status"]["State"] == "SUCCEEDED"
    assert wait_final(client, execution_id)["Status"]["State"] == "CANCELLED"


def test_held_queries_run_until_released_then_end_together(
    athena: LocalAthena, client: AthenaClient
) -> None:
    held = [
        client.start_query_execution(QueryString=f"{DEMO_QUERY}\n-- local-athena: hold=1")
        for _ in range(3)
    ]
    time.sleep(1.0)  # well past the run time of 0.2 s
    assert requests.get(f"{athena.url}/_local/held", timeout=10).json() == {"held": 3}
    for started in held:
        execution = client.get_query_execution(QueryExecutionId=started["QueryExecutionId"])
        assert execution["QueryExecution"]["Status"]["State"] == "RUNNING"
    released = requests.post(f"{athena.url}/_local/release", timeout=10).json()
    assert released == {"released": 3}
    for started in held:
        finished = wait_final(client, started["QueryExecutionId"])
        assert finished["Status"]["State"] == "SUCCEEDED"


def test_unknown_ids_are_invalid_requests(client: AthenaClient) -> None:
    for call in (
        client.get_query_execution,
        client.get_query_results,
        client.stop_query_execution,
    ):
        with pytest.raises(ClientError) as refused:
            call(QueryExecutionId="no-such-execution")
        assert error_code(refused) == "InvalidRequestException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    known = client.start_query_execution(QueryString=DEMO_QUERY)["QueryExecutionId"]
    batch = client.batch_get_query_execution(QueryExecutionIds=[known, "no-such-execution"])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == [known]
    (unprocessed,) = batch["UnprocessedQueryExecutionIds"]
    assert unprocessed["QueryExecutionId"] == "no-such-execution"


def test_invalid_parameters_botocore_sends(client: AthenaClient) -> None:
    execution_id = run_query(client, DEMO_QUERY)["QueryExecutionId"]
    for bad in ({"MaxResults": 1001}, {"NextToken": "not-a-token"}):
        with pytest.raises(ClientError) as refused:
            client.get_query_results(QueryExecutionId=execution_id, **bad)  # type: ignore[arg-type]
        assert error_code(refused) == "InvalidRequestException"


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("AmazonAthena.DropEverything", b"{}", "UnknownOperationException"),
        ("Other.StartQueryExecution", b"{}", "UnknownOperationException"),
        ("AmazonAthena.StartQueryExecution", b"{not json", "InvalidRequestException"),
        ("AmazonAthena.StartQueryExecution", b"[]", "InvalidRequestException"),
        ("AmazonAthena.StartQueryExecution", b"{}", "InvalidRequestException"),
        ("AmazonAthena.StartQueryExecution", b'{"QueryString": ""}', "InvalidRequestException"),
        ("AmazonAthena.StartQueryExecution", b'{"QueryString": 7}', "InvalidRequestException"),
        ("AmazonAthena.GetQueryResults", b'{"QueryExecutionId": "x", "MaxResults": 0}', None),
        ("AmazonAthena.BatchGetQueryExecution", b'{"QueryExecutionIds": []}', None),
    ],
)
def test_malformed_requests_get_aws_errors(
    athena: LocalAthena, target: str, body: bytes, code: str | None
) -> None:
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    status, answer = athena.post("/", body, headers)
    assert status == 400
    assert answer["__type"] == (code or "InvalidRequestException")
    assert answer["Message"]


def test_throttling_surfaces_as_too_many_requests(athena: LocalAthena) -> None:
    client = athena.client(max_attempts=1)  # no retries, so the throttle reaches the caller
    assert athena.configure(throttle_rate=1.0)["throttle_rate"] == 1.0
    try:
        with pytest.raises(ClientError) as throttled:
            client.start_query_execution(QueryString=DEMO_QUERY)
        assert error_code(throttled) == "TooManyRequestsException"
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert athena.stats()["throttled"]["StartQueryExecution"] >= 1
    finally:
        config = athena.configure(throttle_rate=0.0)
    assert config["queue_delay_s"] == 0.05
    assert client.batch_get_query_execution(QueryExecutionIds=["x"])["QueryExecutions"] == []


def test_every_response_matches_botocores_output_shapes(athena: LocalAthena) -> None:
    client = athena.client()
    seen: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def record(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            seen.append((model.name, json.loads(http_response.content), parsed))

    client.meta.events.register("after-call.athena", record)
    ok = run_query(
        client, 'SELECT *, [1, 2] AS list, 1.5::DECIMAL(4, 2) AS d FROM "demo_db"."table"'
    )
    failed = run_query(client, "SELECT nope")
    running = client.start_query_execution(
        QueryString=f"{DEMO_QUERY} -- local-athena: run_time_s=5"
    )
    client.stop_query_execution(QueryExecutionId=running["QueryExecutionId"])
    ids = [ok["QueryExecutionId"], failed["QueryExecutionId"], running["QueryExecutionId"]]
    client.batch_get_query_execution(QueryExecutionIds=[*ids, "unknown"])
    client.get_query_results(QueryExecutionId=ok["QueryExecutionId"], MaxResults=2)
    operations = {name for name, _, _ in seen}
    assert operations == {
        "StartQueryExecution",
        "GetQueryExecution",
        "BatchGetQueryExecution",
        "GetQueryResults",
        "StopQueryExecution",
    }
    validator = ParamValidator()
    for name, raw, parsed in seen:
        shape = client.meta.service_model.operation_model(name).output_shape
        assert shape is not None
        # The raw JSON too, so a member the model does not know is caught, not dropped.
        for body in (raw, {k: v for k, v in parsed.items() if k != "ResponseMetadata"}):
            report = validator.validate(body, shape)
            assert not report.has_errors(), f"{name}: {report.generate_report()}"


async def test_events_arrive_in_order_and_can_be_dropped(athena: LocalAthena) -> None:
    received: list[dict[str, Any]] = []
    failed_once = False

    async def receive(request: web.Request) -> web.Response:
        nonlocal failed_once
        if not failed_once:  # one 503 first: the sender must retry and still keep order
            failed_once = True
            return web.Response(status=503)
        assert request.content_type == "application/json"
        received.append(await request.json())
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/events", receive)
    async with TestServer(receiver) as server:
        await asyncio.to_thread(athena.configure, events_url=str(server.make_url("/events")))
        try:
            client = athena.client()
            kept = await asyncio.to_thread(run_query, client, DEMO_QUERY)
            dropped_sql = f"{DEMO_QUERY}\n-- local-athena: drop_events=1"
            dropped = await asyncio.to_thread(run_query, client, dropped_sql)
            await asyncio.sleep(0.5)  # time enough for any stray event to land
        finally:
            await asyncio.to_thread(athena.configure, events_url=None)
    ours = [e for e in received if e["detail"]["queryExecutionId"] == kept["QueryExecutionId"]]
    assert [e["detail"]["currentState"] for e in ours] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert [e["detail"].get("previousState") for e in ours] == [None, "QUEUED", "RUNNING"]
    assert [e["detail"]["sequenceNumber"] for e in ours] == ["1", "2", "3"]
    for event in ours:
        assert event["detail-type"] == "Athena Query State Change"
        assert event["source"] == "aws.athena"
        assert (event["version"], event["account"], event["resources"]) == ("0", "123456789012", [])
        assert event["time"].endswith("Z") and event["region"]
        assert event["detail"]["statementType"] == "DML"
        assert event["detail"]["workgroupName"] == "primary"
        uuid.UUID(event["id"])
    assert len({e["id"] for e in ours}) == 3
    assert not [
        e for e in received if e["detail"]["queryExecutionId"] == dropped["QueryExecutionId"]
    ]


async def test_app_factory_serves_health(aiohttp_client: Any) -> None:
    config = LocalAthenaConfig(data_dir=SAMPLE)
    test_client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    response = await test_client.get("/_local/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
