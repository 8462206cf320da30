"""Hostile requests on the real stack (issue 11): answered at once with a 400, nothing started.

A malformed callback host used to make the `check callback_url` step fail with a 500 that
Restate retried forever, so the caller never got an answer. Now every one is a 400 naming the
field, within seconds, and Athena runs nothing.
"""

import time
import uuid

import pytest
import requests

from infra.local.stack import LocalStack
from tests.stack_support import athena_stats, submit

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


@pytest.mark.parametrize(
    "callback_url",
    [
        "http://a..b/callback",
        "http://" + "a" * 64 + ".example.com/callback",
        "http://" + ".".join(["a" * 60] * 5) + "/callback",
        "http://xn--/callback",
        "http://127.1/callback",
        "http://[fe80::1%25eth0]/callback",
    ],
)
def test_a_malformed_callback_host_is_answered_with_a_400_at_once(
    stack: LocalStack, callback_url: str
) -> None:
    started_before = len(athena_stats(stack)["executions"])
    began = time.monotonic()
    response = submit(stack, {"callback_url": callback_url}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("Invalid query request. callback_url: ")
    assert time.monotonic() - began < 10, "the caller waited on retries"
    assert len(athena_stats(stack)["executions"]) == started_before


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ('{"max_rows": "10"}', "max_rows", "valid integer"),
        ('{"max_rows": true}', "max_rows", "valid integer"),
        ('{"timeout_s": "5"}', "timeout_s", "valid number"),
        ('{"timeout_s": true}', "timeout_s", "valid number"),
        ('{"timeout_s": NaN}', "timeout_s", "is not a number"),
        ('{"timeout_s": Infinity}', "timeout_s", "is not a number"),
        ('{"query": ["SELECT 1"]}', "query", "valid string"),
        ('{"callback_url": {"url": "x"}}', "callback_url", "valid string"),
    ],
)
def test_request_types_are_strict(stack: LocalStack, body: str, field: str, says: str) -> None:
    started_before = len(athena_stats(stack)["executions"])
    response = submit(stack, body)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith(f"Invalid query request. {field}: ") and says in message
    assert len(athena_stats(stack)["executions"]) == started_before


def test_a_number_of_seconds_may_be_an_integer(stack: LocalStack) -> None:
    response = submit(stack, {"timeout_s": 60, "max_rows": 5})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "SUCCEEDED"


def test_the_promise_workflow_cannot_be_started_from_outside(stack: LocalStack) -> None:
    # Only query/query starts it, with a request it parsed: a plan or a webhook-id forged at
    # the ingress would skip the callback_url's check and the front's idempotency key.
    started_before = len(athena_stats(stack)["executions"])
    forged = {"request": {"query": "SELECT 1"}, "invocation_id": "inv_1forged"}
    url = f"{stack.ingress_url}/promise/inv_1forged/run"
    response = requests.post(url, json=forged, timeout=30)
    assert response.status_code == 400, response.text
    assert "not public" in response.json()["message"]  # Restate's answer for a private handler
    assert len(athena_stats(stack)["executions"]) == started_before


def test_a_callback_refused_by_its_address_is_a_400_from_the_front_that_starts_nothing(
    stack: LocalStack,
) -> None:
    # The metadata address is refused even where private networks are allowed (the local
    # stack): the promise's plan step refuses it, and the front answers with that 400.
    started_before, key = len(athena_stats(stack)["executions"]), str(uuid.uuid4())
    body = {"callback_url": "http://169.254.169.254/latest/meta-data"}
    for _ in range(2):  # the key keeps the answer
        response = submit(stack, body, key=key, timeout=30)
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith("Invalid query request. callback_url: ")
    assert len(athena_stats(stack)["executions"]) == started_before
