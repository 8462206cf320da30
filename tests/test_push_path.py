"""Push and pull are two views of one result: byte-identical, each webhook-id stored once."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack, admin_sql
from service.models import DEMO_QUERY
from tests.stack_support import (
    deliveries,
    delivery_status,
    executions_of,
    run_poller,
    send,
    submit,
    tagged,
    wait_until,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def callback(stack: LocalStack) -> str:
    return f"{stack.listener_url}/callback"


def stored_delivery(stack: LocalStack, webhook_id: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.listener_url}/deliveries/{webhook_id}", timeout=10)
    return response.json() if response.status_code == 200 else None


def pull_with_callback(stack: LocalStack, sql: str, **extra: Any) -> requests.Response:
    return submit(stack, {"query": sql, "callback_url": callback(stack), **extra})


def test_twenty_results_pushed_and_pulled_are_byte_identical(stack: LocalStack) -> None:
    queries = [tagged(DEMO_QUERY, "run_time_s=0.5") for _ in range(16)]
    queries.append(tagged('SELECT missing FROM "demo_db"."table"'))
    queries.append(tagged("SELECT x FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x"))
    queries.append(tagged('SELECT id, "date", value FROM "demo_db"."table" ORDER BY id'))
    queries.append(tagged("SELECT 'naïve ✓' AS unicode, NULL AS nothing, true AS yes"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        pulled = list(pool.map(lambda sql: pull_with_callback(stack, sql), queries))

    states = []
    for response in pulled:
        assert response.status_code == 200, response.text
        result = response.json()
        states.append(result["state"])
        webhook_id = f"msg_{result['invocation_id']}"
        pushed = wait_until(partial(stored_delivery, stack, webhook_id), 30, webhook_id)
        assert pushed["body"].encode() == response.content
        assert pushed["attempts"] == 1
    assert states.count("FAILED") == 1 and states.count("SUCCEEDED") == len(queries) - 1
    ids = [delivery["webhook_id"] for delivery in deliveries(stack.listener_url)]
    assert len(ids) == len(set(ids))


def test_fire_and_forget_send_is_pure_push(stack: LocalStack) -> None:
    key = str(uuid.uuid4())
    sql = tagged(DEMO_QUERY)
    accepted = send(stack, {"query": sql, "callback_url": callback(stack)}, key)
    assert accepted.status_code == 202
    invocation_id = accepted.json()["invocationId"]
    pushed = wait_until(lambda: stored_delivery(stack, f"msg_{invocation_id}"), 30, "push")
    assert pushed["state"] == "SUCCEEDED" and pushed["row_count"] == 1
    # Attaching later still gives the same bytes: pull and push never disagree.
    run = run_poller(stack, "--key", key)
    assert run.stdout == pushed["body"] + "\n"


def test_delivery_status_is_visible_and_the_poller_can_submit_with_a_callback(
    stack: LocalStack,
) -> None:
    run = run_poller(stack, "--query", tagged(DEMO_QUERY), "--callback-url", callback(stack))
    assert run.returncode == 0, run.stderr
    invocation_id = run.stdout.split('"invocation_id":"', 1)[1].split('"', 1)[0]
    webhook_id = f"msg_{invocation_id}"
    status = wait_until(
        lambda: (
            (delivery_status(stack, webhook_id) or {}).get("state") == "delivered"
            and delivery_status(stack, webhook_id)
        ),
        30,
        "delivered status",
    )
    assert status["attempts"] == 1 and status["last_status"] == 200
    assert stored_delivery(stack, webhook_id)["body"] + "\n" == run.stdout  # type: ignore[index]


def test_the_first_attempt_is_made_before_the_pull_answer_and_costs_no_invocation(
    stack: LocalStack,
) -> None:
    """The promise POSTs once itself: a receiver that takes it needs no `webhookDelivery`."""
    response = pull_with_callback(stack, tagged(DEMO_QUERY))
    assert response.status_code == 200, response.text
    webhook_id = f"msg_{response.json()['invocation_id']}"
    # Pushed, then returned: the webhook is there by the time the pulled answer is.
    pushed = stored_delivery(stack, webhook_id)
    assert pushed is not None and pushed["body"].encode() == response.content

    def invocations_keyed(key: str) -> list[dict[str, Any]]:
        sql = f"SELECT target FROM sys_invocation WHERE target_service_key = '{key}'"
        return admin_sql(stack.admin_url, sql)

    assert invocations_keyed(webhook_id) == []
    # (the same look-up does find the query's mailbox, keyed like the delivery would be)
    assert invocations_keyed(response.json()["query_execution_id"]) != []
    # Its outcome is still where callers look for it, by webhook-id and in the status.
    status = delivery_status(stack, webhook_id)
    assert status is not None
    assert (status["state"], status["attempts"], status["last_status"]) == ("delivered", 1, 200)
    promise = requests.post(
        f"{stack.ingress_url}/promise/{response.json()['invocation_id']}/status", timeout=10
    ).json()
    assert promise["delivery"] == status


def test_a_metadata_callback_is_refused_before_the_query_starts(stack: LocalStack) -> None:
    sql = tagged(DEMO_QUERY)
    response = submit(stack, {"query": sql, "callback_url": "http://169.254.169.254/latest/"})
    assert response.status_code == 400
    assert "callback_url" in response.json()["message"]
    assert "metadata" in response.json()["message"]
    assert executions_of(stack, sql) == {}
