"""The pull path on the real stack: restate-server, the service, the local Athena, the poller."""

import json
import uuid

import pytest
import requests

from infra.local.stack import LocalStack
from service.models import DEMO_QUERY
from tests.stack_support import (
    athena_stats,
    attach,
    configure_athena,
    executions_of,
    run_poller,
    send,
    submit,
    tagged,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def test_seed_client_contract_empty_body_runs_the_demo_query(stack: LocalStack) -> None:
    response = submit(stack, {})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["query"] == DEMO_QUERY
    assert result["state"] == "SUCCEEDED"
    assert result["columns"] == [{"name": "answer", "type": "double"}]
    assert result["rows"] == [[42.0]]


def test_seed_client_contract_request_alias(stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY)
    result = submit(stack, {"request": sql}).json()
    assert result["query"] == sql
    assert result["rows"] == [[42.0]]
    assert result["row_count"] == 1 and result["truncated"] is False
    assert result["query_execution_id"] in executions_of(stack, sql)
    assert result["statistics"]["total_execution_time_ms"] > 0
    assert result["completed_at"] >= result["submitted_at"]


def test_query_slower_than_the_client_timeout_returns_through_retries(stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY, "run_time_s=3")
    run = run_poller(stack, "--query", sql, "--timeout", "0.5")
    assert run.returncode == 0, run.stderr
    assert "Attempt #1 failed: timeout of 500ms exceeded. Backing off for" in run.stderr
    assert json.loads(run.stdout)["rows"] == [[42.0]]
    assert len(executions_of(stack, sql)) == 1


def test_same_key_twice_gives_identical_bytes_and_one_athena_query(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY), str(uuid.uuid4())
    first = submit(stack, {"query": sql}, key=key)
    second = submit(stack, {"query": sql}, key=key)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    executions = executions_of(stack, sql)
    assert len(executions) == 1
    (execution,) = executions.values()
    assert execution["calls"]["StartQueryExecution"] == 1


def test_attach_by_key_returns_the_result_of_a_sent_query(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=1"), str(uuid.uuid4())
    assert send(stack, {"query": sql}, key).status_code == 202
    run = run_poller(stack, "--key", key, "--timeout", "0.5")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["query"] == sql
    assert attach(stack, key).content.decode() + "\n" == run.stdout


def test_attach_to_an_unknown_key_is_a_clear_error(stack: LocalStack) -> None:
    key = f"never-submitted-{uuid.uuid4()}"
    run = run_poller(stack, "--key", key, "--timeout", "0.5")
    assert run.returncode == 6
    assert f"No query was submitted with key {key}" in run.stderr
    assert "Traceback" not in run.stderr


def test_failing_sql_is_a_failed_result_not_an_error(stack: LocalStack) -> None:
    sql = tagged('SELECT no_such_column FROM "demo_db"."table"')
    response = submit(stack, {"query": sql})
    assert response.status_code == 200
    result = response.json()
    assert result["state"] == "FAILED"
    assert "no_such_column" in result["error"]
    assert result["rows"] == [] and result["columns"] == []
    run = run_poller(stack, "--query", sql)
    assert run.returncode == 3


def test_multi_page_result_is_read_in_full(stack: LocalStack) -> None:
    sql = tagged("SELECT x, x * 2 AS twice FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x")
    result = submit(stack, {"query": sql}).json()
    assert result["state"] == "SUCCEEDED", result["error"]
    assert result["row_count"] == 2500 and result["truncated"] is False
    assert result["rows"] == [[x, 2 * x] for x in range(1, 2501)]
    (execution,) = executions_of(stack, sql).values()
    assert execution["calls"]["GetQueryResults"] == 3


def test_max_rows_truncates(stack: LocalStack) -> None:
    sql = tagged("SELECT x FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x")
    result = submit(stack, {"query": sql, "max_rows": 1200}).json()
    assert result["row_count"] == 1200 and result["truncated"] is True
    assert result["rows"] == [[x] for x in range(1, 1201)]
    exact = submit(stack, {"query": sql, "max_rows": 2500}).json()
    assert exact["row_count"] == 2500 and exact["truncated"] is False


def test_timeout_gives_timed_out_and_stops_the_query(stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY, "run_time_s=60")
    result = submit(stack, {"query": sql, "timeout_s": 1.5}).json()
    assert result["state"] == "TIMED_OUT"
    assert "1.5 s" in result["error"]
    (execution,) = executions_of(stack, sql).values()
    assert execution["state"] == "CANCELLED"
    assert execution["calls"]["StopQueryExecution"] == 1
    assert run_poller(stack, "--query", sql, "--query-timeout", "1").returncode == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "SELECT 1 -- " + "x" * 262_144}, "query"),
        ({"max_rows": -1}, "max_rows"),
        ({"max_rows": 10**9}, "max_rows"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 10**7}, "timeout_s"),
        ({"sql": "SELECT 1"}, "sql"),
        ({"query": 42}, "query"),
        ("not json", "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(stack: LocalStack, body: object, field: str) -> None:
    started_before = len(athena_stats(stack)["executions"])
    response = submit(stack, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert len(athena_stats(stack)["executions"]) == started_before


def test_bad_input_through_the_poller_exits_2_with_the_reason(stack: LocalStack) -> None:
    run = run_poller(stack, "--query", " ")
    assert run.returncode == 2
    assert "query: must not be empty" in run.stderr
    assert "Traceback" not in run.stderr


def test_queries_complete_with_30_percent_of_athena_calls_throttled(stack: LocalStack) -> None:
    throttled_before = sum(athena_stats(stack)["throttled"].values())
    configure_athena(stack, throttle_rate=0.3)
    try:
        results = [submit(stack, {"query": tagged(DEMO_QUERY)}).json() for _ in range(4)]
    finally:
        configure_athena(stack, throttle_rate=0.0)
    assert [r["state"] for r in results] == ["SUCCEEDED"] * 4
    assert all(r["rows"] == [[42.0]] for r in results)
    assert sum(athena_stats(stack)["throttled"].values()) > throttled_before


def test_any_content_type_is_read_as_json(stack: LocalStack) -> None:
    """`curl -d '{}'` sends a form content type; the body is JSON all the same."""
    response = requests.post(
        f"{stack.ingress_url}/query/query",
        data=b"{}",
        headers={
            "idempotency-key": str(uuid.uuid4()),
            "content-type": "application/x-www-form-urlencoded",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[42.0]]
