"""Every ending resolves the promise: cancel by key, Restate's cancel, a failure after the start,
and status by key at each phase. Both paths see the same bytes, and Athena is left stopped."""

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from service.models import DEMO_QUERY, webhook_id_for
from tests.stack_support import (
    attach,
    deliveries,
    executions_of,
    run_poller,
    send,
    tagged,
    wait_until,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

MANY_ROWS = "SELECT x, x * 2 AS twice FROM UNNEST(sequence(1, 60000)) AS t(x) ORDER BY x"


def status_of(stack: LocalStack, key: str) -> subprocess.CompletedProcess[str]:
    return run_poller(stack, "status", "--key", key, timeout=30)


def phase_of(stack: LocalStack, key: str) -> str | None:
    shown = status_of(stack, key)
    return json.loads(shown.stdout)["phase"] if shown.returncode == 0 else None


def wait_for_phase(stack: LocalStack, key: str, phase: str) -> dict[str, Any]:
    wait_until(lambda: phase_of(stack, key) == phase, 60, f"phase {phase}")
    return dict(json.loads(status_of(stack, key).stdout))


def submit_with_callback(stack: LocalStack, sql: str, key: str, **fields: Any) -> None:
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback", **fields}
    assert send(stack, body, key).status_code == 202


def pushed_body(stack: LocalStack, result: dict[str, Any]) -> str:
    webhook_id = webhook_id_for(result["invocation_id"])
    delivery = stack.wait_for_delivery(webhook_id)
    stored = [d for d in deliveries(stack.listener_url) if d["webhook_id"] == webhook_id]
    assert len(stored) == 1  # one webhook-id, stored once
    return str(delivery["body"])


def assert_cancelled_everywhere(stack: LocalStack, sql: str, key: str, reason: str) -> None:
    """Pull (the poller) and push (the listener) carry one CANCELLED result; Athena stopped."""
    pulled = run_poller(stack, "--key", key)
    assert pulled.returncode == 4, pulled.stderr
    result = json.loads(pulled.stdout)
    assert result["state"] == "CANCELLED"
    assert reason in result["error"] and "Cancelled by request" in result["error"]
    assert pushed_body(stack, result) == pulled.stdout.rstrip("\n")
    (execution,) = executions_of(stack, sql).values()
    assert execution["state"] == "CANCELLED"
    assert execution["calls"]["StartQueryExecution"] == 1
    assert execution["calls"].get("StopQueryExecution", 0) >= 1


def test_cancel_while_queued(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "queue_delay_s=60"), str(uuid.uuid4())
    submit_with_callback(stack, sql, key)
    shown = wait_for_phase(stack, key, "queued")
    assert shown["athena_state"] == "QUEUED" and shown["query_execution_id"]

    cancelled = run_poller(stack, "cancel", "--key", key, "--reason", "no longer needed")
    assert cancelled.returncode == 4, cancelled.stderr
    assert json.loads(cancelled.stdout)["state"] == "CANCELLED"
    assert_cancelled_everywhere(stack, sql, key, "no longer needed")
    done = json.loads(status_of(stack, key).stdout)
    assert done["phase"] == "done" and done["state"] == "CANCELLED"
    assert done["delivery"]["state"] == "delivered"


def test_cancel_while_running(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "queue_delay_s=0.1 run_time_s=60"), str(uuid.uuid4())
    submit_with_callback(stack, sql, key)
    shown = wait_for_phase(stack, key, "running")
    assert shown["athena_state"] == "RUNNING" and shown["elapsed_s"] >= 0

    cancelled = run_poller(stack, "cancel", "--key", key, "--reason", "wrong table")
    assert cancelled.returncode == 4, cancelled.stderr
    assert_cancelled_everywhere(stack, sql, key, "wrong table")


def test_a_cancel_during_the_fetch_comes_too_late_and_the_rows_stand(stack: LocalStack) -> None:
    sql, key = tagged(MANY_ROWS, "run_time_s=0.1"), str(uuid.uuid4())
    submit_with_callback(stack, sql, key, max_rows=60000)
    wait_for_phase(stack, key, "fetching")

    cancelled = run_poller(stack, "cancel", "--key", key)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "Too late to cancel" in cancelled.stderr
    result = json.loads(cancelled.stdout)
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 60000
    assert pushed_body(stack, result) == cancelled.stdout.rstrip("\n")
    (execution,) = executions_of(stack, sql).values()
    assert execution["state"] == "SUCCEEDED"
    assert "StopQueryExecution" not in execution["calls"]


def test_a_cancel_after_the_end_changes_nothing(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY), str(uuid.uuid4())
    submit_with_callback(stack, sql, key)
    first = run_poller(stack, "--key", key)
    assert first.returncode == 0

    late = run_poller(stack, "cancel", "--key", key)
    assert late.returncode == 0
    assert "already ended" in late.stderr
    assert late.stdout == first.stdout  # the same result, byte for byte
    assert json.loads(late.stdout)["rows"] == [[42.0]]
    assert pushed_body(stack, json.loads(first.stdout)) == first.stdout.rstrip("\n")


def test_restates_own_cancel_ends_the_same_way(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "queue_delay_s=0.1 run_time_s=60"), str(uuid.uuid4())
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    invocation_id = send(stack, body, key).json()["invocationId"]
    wait_for_phase(stack, key, "running")

    # What `restate invocations cancel <id>` does.
    cancel = requests.patch(f"{stack.admin_url}/invocations/{invocation_id}/cancel", timeout=10)
    assert cancel.status_code in (200, 202), cancel.text

    response = attach(stack, key)
    assert response.status_code == 200, response.text
    assert response.json()["invocation_id"] == invocation_id
    assert_cancelled_everywhere(stack, sql, key, "cancelled through Restate")


def test_status_of_an_unknown_key_exits_6(stack: LocalStack) -> None:
    shown = status_of(stack, f"never-submitted-{uuid.uuid4()}")
    assert shown.returncode == 6
    assert "No query was submitted with key" in shown.stderr
    cancelled = run_poller(stack, "cancel", "--key", f"never-submitted-{uuid.uuid4()}")
    assert cancelled.returncode == 6


def test_status_shows_the_phases_without_calling_athena(stack: LocalStack) -> None:
    # Queued for long enough that a status look (a poller process) sees it on a busy machine.
    sql, key = tagged(DEMO_QUERY, "queue_delay_s=5 run_time_s=3"), str(uuid.uuid4())
    submit_with_callback(stack, sql, key)
    queued = wait_for_phase(stack, key, "queued")
    calls_before = dict(next(iter(executions_of(stack, sql).values()))["calls"])
    for _ in range(5):
        assert status_of(stack, key).returncode == 0
    # Status asks Restate only: five more looks cost Athena nothing.
    assert next(iter(executions_of(stack, sql).values()))["calls"] == calls_before
    assert queued["submitted_at"] and queued["rows_fetched"] == 0
    assert queued["delivery"] is None  # nothing attempted yet

    wait_for_phase(stack, key, "running")
    wait_for_phase(stack, key, "done")
    wait_until(
        lambda: (json.loads(status_of(stack, key).stdout)["delivery"] or {}).get("state"),
        30,
        "the delivery to be recorded",
    )
    done = json.loads(status_of(stack, key).stdout)
    assert done["state"] == "SUCCEEDED" and done["rows_fetched"] == 1
    assert done["delivery"]["state"] == "delivered" and done["delivery"]["attempts"] == 1


def test_the_poller_help_lists_status_and_cancel() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "poller", "--help"], capture_output=True, text=True, check=True
    )
    assert "status --key K" in shown.stdout and "cancel --key K" in shown.stdout
