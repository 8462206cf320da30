"""Athena's whole request through the service on the real stack (restate-server, the
service, the local Athena, the listener): the query's context on allow-lists, parameters sent
as literals, result reuse, and the AthenaError a caller can act on."""

import json
import uuid
from functools import partial
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from tests.stack_support import athena_stats, executions_of, run_poller, submit, tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

HOSTILE = "O'Brien'; DROP TABLE x; --"
BY_NAME = 'SELECT id, name FROM "crm_db"."customers" WHERE name = ?'


def result_of(stack: LocalStack, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    response = submit(stack, body, key=key)
    assert response.status_code == 200, response.text
    return dict(response.json())


def stored_delivery(stack: LocalStack, webhook_id: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.listener_url}/deliveries/{webhook_id}", timeout=10)
    return response.json() if response.status_code == 200 else None


def test_a_hostile_parameter_comes_back_as_a_value_and_athena_ran_a_placeholder(
    stack: LocalStack,
) -> None:
    sql = tagged(BY_NAME)
    body = {"query": sql, "parameters": [HOSTILE], "callback_url": f"{stack.listener_url}/callback"}
    response = submit(stack, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["state"] == "SUCCEEDED", result["error"]
    assert result["rows"] == [["c2", HOSTILE]]
    assert result["query"] == sql and "name = ?" in result["query"]
    assert result["parameters"] == [HOSTILE]
    [(_, execution)] = executions_of(stack, sql).items()
    assert execution["query"] == sql  # the text Athena ran: the ? where the value stood
    assert execution["execution_parameters"] == ["'O''Brien''; DROP TABLE x; --'"]
    # Pushed and pulled are still the same bytes.
    webhook_id = f"msg_{result['invocation_id']}"
    pushed = wait_until(partial(stored_delivery, stack, webhook_id), 30, webhook_id)
    assert pushed["body"].encode() == response.content


def test_numbers_and_booleans_are_parameters_too(stack: LocalStack) -> None:
    sql = tagged('SELECT count(*) AS n FROM "demo_db"."table" WHERE value > ? AND ? = true')
    result = result_of(stack, {"query": sql, "parameters": [1.5, True]})
    assert result["rows"] == [[2]]
    assert executions_of(stack, sql).popitem()[1]["execution_parameters"] == ["1.5", "true"]


def test_the_same_sql_under_two_keys_with_reuse_scans_once(stack: LocalStack) -> None:
    sql = tagged(BY_NAME)
    body = {"query": sql, "parameters": ["Ada Lovelace"], "result_reuse_minutes": 60}
    runs = athena_stats(stack)["engine_runs"]
    first = result_of(stack, body)
    second = result_of(stack, body)
    assert athena_stats(stack)["engine_runs"] == runs + 1  # the local Athena ran it once
    assert (first["result_reused"], second["result_reused"]) == (False, True)
    assert second["rows"] == first["rows"] == [["c1", "Ada Lovelace"]]
    assert second["statistics"]["data_scanned_bytes"] == 0
    executions = executions_of(stack, sql)
    assert executions[second["query_execution_id"]]["reused_from"] == first["query_execution_id"]
    # Other parameter values are another result, never the cached one.
    other = result_of(stack, {**body, "parameters": ["Alan Turing"]})
    assert other["result_reused"] is False and other["rows"] == [["c4", "Alan Turing"]]


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("workgroup", "tenant-b", "primary, analytics, tenant-enforced"),
        ("database", "payroll_db", "demo_db, crm_db, demo_db, sales_db"),
        ("catalog", "hr_catalog", "AwsDataCatalog, lakehouse"),
        ("output_location", "s3://someone-else/results/", "s3://local-athena-results/"),
    ],
)
def test_a_name_outside_the_allow_list_is_a_400_naming_it_and_nothing_starts(
    stack: LocalStack, field: str, value: str, allowed: str
) -> None:
    sql = tagged("SELECT 1 AS one")
    response = submit(stack, {"query": sql, field: value})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith(f"Invalid query request. {field}: {value!r} is not allowed here")
    assert allowed.split(", ")[0] in message and allowed.split(", ")[-1] in message
    assert executions_of(stack, sql) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"parameters": [None]}, "parameters: parameter 0 is null; give a string"),
        ({"parameters": ["x" * 1023]}, "Athena takes at most 1024"),
        ({"result_reuse_minutes": 10_081}, "result_reuse_minutes: Input should be less than"),
        ({"workgroup": "no spaces"}, "workgroup: String should match pattern"),
    ],
)
def test_bad_new_fields_are_refused_before_anything_starts(
    stack: LocalStack, body: dict[str, Any], message: str
) -> None:
    sql = tagged("SELECT 1 AS one WHERE 1 = ?")
    response = submit(stack, {"query": sql, **body})
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert executions_of(stack, sql) == {}


def test_the_result_says_where_it_ran_and_an_enforcing_workgroup_wins(stack: LocalStack) -> None:
    sql = tagged("SELECT sum(amount) AS total FROM orders")
    body = {"query": sql, "catalog": "lakehouse", "database": "sales_db", "workgroup": "analytics"}
    result = result_of(stack, body)
    assert result["rows"] == [[49.75]]
    assert (result["catalog"], result["database"], result["workgroup"]) == (
        "lakehouse",
        "sales_db",
        "analytics",
    )
    assert result["output_location"].startswith("s3://local-athena-results/analytics/")
    mine = "s3://local-athena-results/mine/"
    chosen = result_of(stack, {"query": tagged("SELECT 1 AS one"), "output_location": mine})
    assert chosen["output_location"].startswith(mine)
    enforced = {"query": tagged("SELECT 1 AS one"), "workgroup": "tenant-enforced"}
    enforced_result = result_of(stack, {**enforced, "output_location": mine})
    assert enforced_result["output_location"].startswith("s3://tenant-results/enforced/")


def test_a_request_without_the_new_fields_runs_as_before(stack: LocalStack) -> None:
    result = result_of(stack, {})
    keys = list(result)
    assert keys[:15] == [
        "invocation_id",
        "query_execution_id",
        "query",
        "state",
        "columns",
        "rows",
        "row_count",
        "truncated",
        "output_location",
        "statistics",
        "error",
        "submitted_at",
        "completed_at",
        "catalog",
        "database",
    ]
    assert result["rows"] == [[42.0]]
    assert (result["catalog"], result["database"], result["workgroup"]) == (
        None,
        "demo_db",
        "primary",
    )
    assert result["parameters"] is None and result["error_category"] is None
    [(_, execution)] = [
        item
        for item in athena_stats(stack)["executions"].items()
        if item[0] == result["query_execution_id"]
    ]
    assert execution["context"] == {"Database": "demo_db"}
    assert execution["execution_parameters"] is None


def test_a_syntax_error_is_the_users_and_an_internal_failure_may_be_retried(
    stack: LocalStack,
) -> None:
    syntax = result_of(stack, {"query": tagged("SELEC 1")})
    assert syntax["state"] == "FAILED" and syntax["error"].startswith("SYNTAX_ERROR")
    assert (syntax["error_category"], syntax["error_type"], syntax["error_retryable"]) == (
        "USER",
        1006,
        False,
    )
    internal = result_of(stack, {"query": tagged("SELECT 1", "fail=internal")})
    assert internal["state"] == "FAILED"
    assert (internal["error_category"], internal["error_type"], internal["error_retryable"]) == (
        "SYSTEM",
        100,
        True,
    )
    # A deadline keeps its meaning: TIMED_OUT, and no AthenaError.
    late = result_of(stack, {"query": tagged("SELECT 1", "run_time_s=30"), "timeout_s": 1})
    assert late["state"] == "TIMED_OUT" and late["error_category"] is None


def test_the_poller_takes_the_new_flags_and_says_whether_a_retry_helps(
    stack: LocalStack,
) -> None:
    sql = tagged("SELECT id FROM customers WHERE name = ? AND city = ?")
    key = str(uuid.uuid4())
    run = run_poller(
        stack,
        *("--query", sql, "--database", "crm_db", "--workgroup", "analytics"),
        *("--param", HOSTILE, "--param", '"Dublin"', "--reuse-minutes", "5", "--key", key),
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["rows"] == [["c2"]] and result["parameters"] == [HOSTILE, "Dublin"]
    assert result["workgroup"] == "analytics" and result["result_reused"] is False
    failed = run_poller(stack, "--query", tagged("SELEC 1"))
    assert failed.returncode == 3
    assert "category USER, type 1006; a retry will not help" in failed.stderr
    internal = run_poller(stack, "--query", tagged("SELECT 1", "fail=internal"))
    assert internal.returncode == 3
    assert "category SYSTEM, type 100; a retry may help" in internal.stderr
    refused = run_poller(stack, "--workgroup", "tenant-b")
    assert refused.returncode == 2
    assert "workgroup: 'tenant-b' is not allowed here" in refused.stderr
