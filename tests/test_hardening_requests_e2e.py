"""Hostile requests on the real stack (issue 11): answered at once with a 400, nothing started.

A malformed callback host used to make the `check callback_url` step fail with a 500 that
Restate retried forever, so the caller never got an answer. Now every one is a 400 naming the
field, within seconds, and Athena runs nothing.
"""

import time

import pytest

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
