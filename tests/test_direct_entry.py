"""The direct entry, `POST /queries/{key}/run`: the promise as the workflow of the caller's key.

The same promise as through `query/query` (pull and push the same bytes, the query started
once, a bad request a 400 naming its field), reached without the front's invocation: status,
cancel and redelivery by the key itself, and a webhook-id that leads back to the key."""

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import requests

from infra.local.stack import LocalStack
from poller import Client
from service.models import DEMO_QUERY, webhook_id_for
from service.promisify.delivery.models import MAX_KEY_BYTES
from tests.stack_support import (
    attach_direct,
    deliveries,
    delivery_status,
    executions_of,
    run_poller,
    running_execution,
    send_direct,
    tagged,
    wait_until,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def run_direct(stack: LocalStack, key: str, body: object) -> requests.Response:
    return requests.post(f"{stack.ingress_url}/queries/{key}/run", json=body, timeout=60)


def by_key(stack: LocalStack, key: str, handler: str, body: object = None) -> requests.Response:
    url = f"{stack.ingress_url}/queries/{key}/{handler}"
    return requests.post(url, json=body or {}, timeout=30)


def pushed_once(stack: LocalStack, webhook_id: str) -> dict[str, Any]:
    stack.wait_for_delivery(webhook_id)
    (stored,) = [d for d in deliveries(stack.listener_url) if d["webhook_id"] == webhook_id]
    return stored


def test_a_direct_promise_is_pulled_attached_and_pushed_as_the_same_bytes(
    stack: LocalStack,
) -> None:
    sql, key = tagged(DEMO_QUERY), f"direct/{uuid.uuid4()} é"
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    pulled = run_direct(stack, quote(key, safe=""), body)
    assert pulled.status_code == 200, pulled.text
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    assert attach_direct(stack, quote(key, safe="")).content == pulled.content

    webhook_id = webhook_id_for(result["invocation_id"], key)
    assert pushed_once(stack, webhook_id)["body"] == pulled.text
    assert list(executions_of(stack, sql)) == [result["query_execution_id"]]
    # The delivery's own status finds the promise by the key its webhook-id carries.
    delivered = delivery_status(stack, webhook_id)
    assert delivered is not None and delivered["state"] == "delivered", delivered
    shown = by_key(stack, quote(key, safe=""), "status").json()
    assert (shown["phase"], shown["state"]) == ("done", "SUCCEEDED")
    assert shown["webhook_id"] == webhook_id and shown["delivery"]["state"] == "delivered"


def test_a_key_runs_its_query_once_and_a_second_run_is_told_to_attach(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=1"), f"direct-{uuid.uuid4()}"
    sent = send_direct(stack, {"query": sql}, key)
    assert sent.status_code == 202 and sent.json()["status"] == "Accepted", sent.text
    again = send_direct(stack, {"query": sql}, key)
    assert again.json() == {
        "invocationId": sent.json()["invocationId"],
        "status": "PreviouslyAccepted",
    }
    # Restate's answer to a second run of one workflow: 409, attach instead.
    rerun = run_direct(stack, key, {"query": sql})
    assert rerun.status_code == 409, rerun.text
    attached = attach_direct(stack, key)
    assert attached.status_code == 200 and attached.json()["state"] == "SUCCEEDED"
    (execution,) = executions_of(stack, sql).values()
    assert execution["calls"]["StartQueryExecution"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_rows": -1}, "max_rows"),
        ({"max_rows": -1, "query": "SELECT 1"}, "max_rows"),
        ({"callback_url": "ftp://example.com/x"}, "callback_url"),
    ],
)
def test_a_bad_direct_request_is_a_400_naming_the_field_and_starts_nothing(
    stack: LocalStack, body: dict[str, Any], field: str
) -> None:
    sql = tagged(DEMO_QUERY)
    refused = run_direct(stack, f"direct-{uuid.uuid4()}", {"query": sql, **body})
    assert refused.status_code == 400
    assert field in refused.json()["message"]
    assert executions_of(stack, sql) == {}


def test_a_direct_promise_is_cancelled_by_its_key(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=60"), f"direct-{uuid.uuid4()}"
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    assert send_direct(stack, body, key).status_code == 202
    running_execution(stack, sql)
    wait_until(lambda: by_key(stack, key, "status").json().get("phase") == "running", 30, "running")

    answer = by_key(stack, key, "cancel", {"reason": "wrong table"}).json()
    assert answer["outcome"] == "cancelling", answer
    pulled = attach_direct(stack, key)
    result = pulled.json()
    assert result["state"] == "CANCELLED" and "wrong table" in result["error"]
    pushed = pushed_once(stack, webhook_id_for(result["invocation_id"], key))
    assert pushed["body"].encode() == pulled.content
    (execution,) = executions_of(stack, sql).values()
    assert execution["state"] == "CANCELLED"


def test_an_unknown_direct_key_is_a_404_that_says_so(stack: LocalStack) -> None:
    key = f"never-submitted-{uuid.uuid4()}"
    shown = by_key(stack, key, "status")
    assert shown.status_code == 404
    assert shown.json()["message"] == (
        f"No promise {key!r}: no run of queries with this key, or it ended more than 1 day(s) ago."
    )
    assert attach_direct(stack, key).status_code == 404


def test_a_key_too_long_for_the_webhook_id_is_a_400_that_says_what_to_do(
    stack: LocalStack,
) -> None:
    sql, longest = tagged(DEMO_QUERY), uuid.uuid4().hex.ljust(MAX_KEY_BYTES, "k")
    refused = run_direct(stack, longest + "k", {"query": sql})
    assert refused.status_code == 400
    assert f"at most {MAX_KEY_BYTES}" in refused.json()["message"]
    assert "POST /query/query" in refused.json()["message"]
    assert executions_of(stack, sql) == {}
    assert run_direct(stack, longest, {"query": sql}).status_code == 200


def test_the_poller_runs_attaches_and_manages_a_direct_promise(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=0.5"), f"direct-{uuid.uuid4()}"
    submit = ["--direct", "--key", key, "--query", sql]
    first = run_poller(stack, *submit, "--callback-url", f"{stack.listener_url}/callback")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    # Submitted again, the key's workflow is not run again: the poller attaches to it.
    again = run_poller(stack, *submit)
    assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
    assert f"Key {key} was submitted before: attaching" in again.stderr
    attached = run_poller(stack, "--direct", "--key", key)
    assert attached.stdout == first.stdout

    webhook_id = webhook_id_for(result["invocation_id"], key)
    assert pushed_once(stack, webhook_id)["body"] == first.stdout.rstrip("\n")
    shown = run_poller(stack, "status", "--direct", "--key", key)
    status = json.loads(shown.stdout)
    assert (status["phase"], status["delivery"]["state"]) == ("done", "delivered")

    redelivered = run_poller(stack, "redeliver", "--direct", "--key", key)
    assert json.loads(redelivered.stdout)["outcome"] == "redelivering", redelivered.stderr
    history = wait_until(
        lambda: (
            (s := delivery_status(stack, webhook_id))
            and s["redeliveries"] == 1
            and s["state"] == "delivered"
            and s["history"]
        ),
        30,
        "the redelivery",
    )
    assert [(a["attempt"], a["redelivery"]) for a in history] == [(1, 0), (2, 1)]

    # The same from Python: the typed client, told the entry once.
    client = Client(stack.ingress_url, direct=True)
    assert client.invocation_id(key) == result["invocation_id"]
    assert client.attach(key).received == first.stdout.rstrip("\n").encode()
    assert client.status(key).phase == "done"

    listed = run_poller(stack, "list", "--admin", stack.admin_url, "--key-prefix", key, "--json")
    (entry,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (entry["key"], entry["direct"], entry["state"]) == (key, True, "SUCCEEDED")
    assert entry["invocation_id"] == result["invocation_id"]
    (execution,) = executions_of(stack, sql).values()
    assert execution["calls"]["StartQueryExecution"] == 1


def test_the_poller_cancels_a_direct_promise_and_knows_an_unknown_key(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=60"), f"direct-{uuid.uuid4()}"
    assert send_direct(stack, {"query": sql}, key).status_code == 202
    running_execution(stack, sql)
    cancelled = run_poller(stack, "cancel", "--direct", "--key", key, "--reason", "not needed")
    assert cancelled.returncode == 4, cancelled.stderr
    assert json.loads(cancelled.stdout)["state"] == "CANCELLED"
    unknown = run_poller(stack, "status", "--direct", "--key", f"never-{uuid.uuid4()}")
    assert unknown.returncode == 6 and "No query was submitted with key" in unknown.stderr
