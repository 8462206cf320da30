"""Event-driven completion: events resolve the awakeable, the safety net catches lost ones.

Each mode gets a stack of its own (COMPLETION_MODE is a deployment setting).
"""

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.athena.events import eventbridge_envelope
from infra.local.stack import LocalStack, admin_sql
from service.models import DEMO_QUERY, webhook_id_for
from tests.stack_support import (
    athena_stats,
    attach,
    executions_of,
    run_poller,
    running_stack,
    send,
    submit,
    tagged,
    wait_until,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


@pytest.fixture(scope="module")
def events_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    tmp = tmp_path_factory.mktemp("events")
    with running_stack(tmp, completion_mode="events", with_listener=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def both_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    tmp = tmp_path_factory.mktemp("both")
    env = {"SAFETY_NET_INTERVAL_S": "1.5"}
    with running_stack(tmp, completion_mode="both", with_listener=False, service_env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def poll_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    tmp = tmp_path_factory.mktemp("poll")
    # Brisk checks, a quota generous enough for them, and one shard, so every parked query
    # shares its sweeps.
    env = {
        "POLL_INITIAL_S": "0.1",
        "POLL_MAX_S": "0.1",
        "ATHENA_STATUS_CALLS_PER_S": "100",
        "SWEEPER_SHARDS": "1",
    }
    with running_stack(tmp, completion_mode="poll", with_listener=False, service_env=env) as stack:
        yield stack


def only_execution(stack: LocalStack, sql: str) -> dict[str, Any]:
    (execution,) = executions_of(stack, sql).values()
    return execution


def admin_query(stack: LocalStack, sql: str) -> list[dict[str, Any]]:
    return admin_sql(stack.admin_url, sql)


def failing_invocations(stack: LocalStack) -> list[dict[str, Any]]:
    """Invocations Restate is retrying because a handler threw: there should be none."""
    return admin_query(
        stack,
        "SELECT id, target, last_failure FROM sys_invocation "
        "WHERE last_failure IS NOT NULL AND status != 'completed'",
    )


def event(query_execution_id: str, state: str, previous: str | None = "RUNNING") -> dict[str, Any]:
    detail = {
        "versionId": "0",
        "currentState": state,
        "statementType": "DML",
        "queryExecutionId": query_execution_id,
        "workgroupName": "primary",
        "sequenceNumber": "3",
    }
    if previous:
        detail["previousState"] = previous
    return eventbridge_envelope(detail, "us-east-1")


def post_event(stack: LocalStack, body: Any) -> requests.Response:
    return requests.post(f"{stack.ingress_url}/athenaEvents/onStateChange", json=body, timeout=30)


def test_events_mode_completes_without_polling_athena(events_stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY)
    result = submit(events_stack, {"query": sql}).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    execution = only_execution(events_stack, sql)
    assert execution["calls_before_completion"].get("GetQueryExecution", 0) == 0
    # After completion: one describe for the statistics, one page of results.
    assert execution["calls"]["GetQueryExecution"] == 1


def test_an_event_that_arrives_before_the_waiter_registers(events_stack: LocalStack) -> None:
    # The local Athena finishes the query and delivers its events before it even answers
    # StartQueryExecution, so the service cannot have registered its awakeable yet.
    sql = tagged(DEMO_QUERY, "queue_delay_s=0 run_time_s=0 finish_before_reply=1")
    result = submit(events_stack, {"query": sql}).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    assert (
        only_execution(events_stack, sql)["calls_before_completion"].get("GetQueryExecution", 0)
        == 0
    )


def test_duplicate_out_of_order_unknown_and_foreign_events_are_harmless(
    events_stack: LocalStack,
) -> None:
    key, sql = str(uuid.uuid4()), tagged(DEMO_QUERY)
    first = submit(events_stack, {"query": sql}, key=key)
    qid = first.json()["query_execution_id"]
    noise = [
        event(qid, "SUCCEEDED"),  # a duplicate of the final event
        event(qid, "SUCCEEDED"),
        event(qid, "RUNNING", previous="QUEUED"),  # late and out of order
        event(str(uuid.uuid4()), "SUCCEEDED"),  # not one of ours
        {**event(qid, "FAILED"), "source": "aws.s3"},  # not Athena at all
    ]
    for body in noise:
        assert post_event(events_stack, body).status_code == 200
    assert attach(events_stack, key).content == first.content
    assert failing_invocations(events_stack) == []
    # The mailbox still works for the next query.
    assert submit(events_stack, {"query": tagged(DEMO_QUERY)}).json()["state"] == "SUCCEEDED"


def test_a_malformed_event_is_a_400_naming_the_field(events_stack: LocalStack) -> None:
    response = post_event(events_stack, {"source": "aws.athena", "detail-type": "x", "detail": {}})
    assert response.status_code == 400
    assert "queryExecutionId" in response.json()["message"]
    for bad_id in ("x" * 100_000, f"unknown-{uuid.uuid4()}", "../../admin"):
        response = post_event(events_stack, event(bad_id, "SUCCEEDED"))
        assert response.status_code == 400, bad_id[:40]
        assert "queryExecutionId" in response.json()["message"]
    assert failing_invocations(events_stack) == []


def test_an_event_straight_to_the_mailbox_completes_the_promise(
    events_stack: LocalStack,
) -> None:
    """The local stack's Athena, like the EventBridge rule, posts to the query's own mailbox."""
    sql = tagged(DEMO_QUERY, "run_time_s=0.5")
    result = submit(events_stack, {"query": sql}).json()
    assert result["state"] == "SUCCEEDED"
    calls = admin_query(
        events_stack,
        "SELECT count(*) AS n FROM sys_invocation WHERE target = "
        f"'completion/{result['query_execution_id']}/onEvent'",
    )
    assert calls[0]["n"] >= 1
    # An event posted under another query's path is refused, not forwarded.
    wrong = requests.post(
        f"{events_stack.ingress_url}/completion/{uuid.uuid4()}/onEvent",
        json=event(result["query_execution_id"], "SUCCEEDED"),
        timeout=10,
    )
    assert wrong.status_code == 400


def test_service_restarted_while_the_event_is_in_flight(events_stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=2"), str(uuid.uuid4())
    assert send(events_stack, {"query": sql}, key).status_code == 202
    wait_until(lambda: executions_of(events_stack, sql), 30, "the query to start")
    service = events_stack.processes["service"]
    service.kill()
    # The final event reaches Restate while no service runs; Restate holds it.
    wait_until(lambda: only_execution(events_stack, sql)["state"] == "SUCCEEDED", 30, "Athena")
    service.start()
    result = attach(events_stack, key, timeout=60).json()
    assert result["state"] == "SUCCEEDED"
    execution = only_execution(events_stack, sql)
    assert execution["calls"]["StartQueryExecution"] == 1
    assert execution["calls_before_completion"].get("GetQueryExecution", 0) == 0


@pytest.fixture
def final_events_stack(tmp_path: Path) -> Iterator[LocalStack]:
    # As the EventBridge rule with -c athenaRunningEvents=false: final states only. Its own
    # test's lifetime, so it is gone before the next module-wide stack starts.
    with running_stack(tmp_path, completion_mode="events", running_events=False) as stack:
        yield stack


def test_without_running_events_one_event_a_query_ends_it(final_events_stack: LocalStack) -> None:
    stack = final_events_stack
    sql, key = tagged(DEMO_QUERY, "queue_delay_s=0.1 run_time_s=3"), str(uuid.uuid4())
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    assert send(stack, body, key).status_code == 202

    def running() -> bool:
        return any(e["state"] == "RUNNING" for e in executions_of(stack, sql).values())

    wait_until(running, 30, "Athena running the query")
    # No RUNNING event came: status shows what the promise last heard, that it queued.
    shown = run_poller(stack, "status", "--key", key, timeout=30)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert (status["phase"], status["athena_state"]) == ("queued", "QUEUED")

    result = attach(stack, key).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    delivery = stack.wait_for_delivery(webhook_id_for(result["invocation_id"]))
    assert json.loads(delivery["body"]) == result
    execution = only_execution(stack, sql)
    assert execution["calls_before_completion"].get("GetQueryExecution", 0) == 0
    # The final state was the one event Restate took for this query: one invocation.
    query_id = result["query_execution_id"]
    taken = admin_query(
        stack,
        "SELECT id FROM sys_invocation WHERE target_service_name = 'completion' "
        f"AND target_service_key = '{query_id}' AND target_handler_name = 'onEvent'",
    )
    assert len(taken) == 1


def test_both_mode_safety_net_catches_a_dropped_event(both_stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY, "run_time_s=0.5 drop_events=1")
    result = submit(both_stack, {"query": sql}).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    execution = only_execution(both_stack, sql)
    # The safety net's batched status check found it: after completion, not before.
    assert execution["calls_before_completion"].get("BatchGetQueryExecution", 0) <= 1
    assert execution["calls"]["BatchGetQueryExecution"] >= 1


def test_both_mode_with_events_does_not_poll_a_short_query(both_stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY, "run_time_s=0.5")
    assert submit(both_stack, {"query": sql}).json()["state"] == "SUCCEEDED"
    execution = only_execution(both_stack, sql)
    assert execution["calls_before_completion"].get("GetQueryExecution", 0) == 0
    assert execution["calls_before_completion"].get("BatchGetQueryExecution", 0) == 0
    # Its event came within the safety net's interval, so it never reached the sweeper: no
    # status check for it, even well after the interval has passed.
    time.sleep(3 * 1.5)
    assert only_execution(both_stack, sql)["calls"].get("BatchGetQueryExecution", 0) == 0


def test_poll_mode_completes_by_polling_without_events(poll_stack: LocalStack) -> None:
    # Events are dropped: only the sweeper's status checks can complete this promise.
    sql = tagged(DEMO_QUERY, "run_time_s=1 drop_events=1")
    result = submit(poll_stack, {"query": sql}).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    execution = only_execution(poll_stack, sql)
    assert execution["calls_before_completion"].get("BatchGetQueryExecution", 0) >= 1


def promise_status(stack: LocalStack, invocation_id: str) -> dict[str, Any]:
    response = requests.post(f"{stack.ingress_url}/promise/{invocation_id}/status", timeout=10)
    return dict(response.json())


def test_poll_mode_the_sweeper_resolves_the_promise_itself(poll_stack: LocalStack) -> None:
    """No mailbox between the sweeper and the promise: no invocation per state, and status
    still shows RUNNING, from the sweeper's own last check."""
    sql, key = tagged(DEMO_QUERY, "run_time_s=3 drop_events=1"), str(uuid.uuid4())
    invocation_id = send(poll_stack, {"query": sql}, key).json()["invocationId"]
    shown = wait_until(
        lambda: (
            (status := promise_status(poll_stack, invocation_id)).get("phase") == "running"
            and status
        ),
        30,
        "status to show the query running",
    )
    assert shown["athena_state"] == "RUNNING" and "state_keeper" not in shown
    result = attach(poll_stack, key).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    mailbox = admin_query(
        poll_stack,
        "SELECT target FROM sys_invocation "
        f"WHERE target_service_key = '{result['query_execution_id']}'",
    )
    assert mailbox == []


def test_poll_mode_a_deadline_leaves_the_sweeper_nothing_to_trip_on(
    poll_stack: LocalStack,
) -> None:
    # The promise ends at its deadline while the sweeper still holds its awakeable: the next
    # check resolves an awakeable nobody waits for any more, and nothing fails.
    sql = tagged(DEMO_QUERY, "run_time_s=30 drop_events=1")
    result = submit(poll_stack, {"query": sql, "timeout_s": 1}).json()
    assert result["state"] == "TIMED_OUT"
    wait_until(
        lambda: only_execution(poll_stack, sql)["calls"].get("BatchGetQueryExecution", 0) >= 2,
        30,
        "the sweeper's checks after the stop",
    )
    time.sleep(1)
    assert failing_invocations(poll_stack) == []


def test_many_parked_promises_share_batched_status_checks(poll_stack: LocalStack) -> None:
    """Thirty promises parked at once cost a few BatchGetQueryExecution calls per round of
    checks, not one call each, and all complete."""
    before = athena_stats(poll_stack)["calls"].get("BatchGetQueryExecution", 0)
    sqls = [tagged(DEMO_QUERY, "run_time_s=2 drop_events=1") for _ in range(30)]
    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(lambda sql: submit(poll_stack, {"query": sql}).json(), sqls))
    assert all(result["state"] == "SUCCEEDED" for result in results)
    checks_per_query = sum(
        only_execution(poll_stack, sql)["calls"]["BatchGetQueryExecution"] for sql in sqls
    ) / len(sqls)
    batch_calls = athena_stats(poll_stack)["calls"]["BatchGetQueryExecution"] - before
    # Every query was checked several times, but a call checked many of them at once.
    assert checks_per_query >= 3
    assert batch_calls < checks_per_query * len(sqls) / 5


def test_a_premature_or_forged_final_event_cannot_fake_a_result(events_stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=3"), str(uuid.uuid4())
    assert send(events_stack, {"query": sql}, key).status_code == 202
    qid = wait_until(
        lambda: next(
            (
                q
                for q, info in executions_of(events_stack, sql).items()
                if info["state"] == "RUNNING"
            ),
            None,
        ),
        30,
        "the query to run",
    )
    assert post_event(events_stack, event(qid, "SUCCEEDED")).status_code == 200
    result = attach(events_stack, key, timeout=60).json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    # Woken early, the handler found the query still running, and only Athena's own word
    # (the sweeper's checks) could end the wait: a second forged event changes nothing.
    execution = only_execution(events_stack, sql)
    assert execution["calls_before_completion"]["GetQueryExecution"] >= 1
    assert execution["calls"].get("BatchGetQueryExecution", 0) >= 1
