"""The direct entry, `POST /queries/{key}/run`: the promise keyed by the caller's own key.

WIP on branch direct-entry: what works today; the re-submission (409) and the delivery's
status by webhook-id are still open (see the session note)."""

import uuid

import pytest
import requests

from infra.local.stack import LocalStack
from service.models import DEMO_QUERY, webhook_id_for
from tests.stack_support import executions_of, tagged

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def run_direct(stack: LocalStack, key: str, body: object) -> requests.Response:
    return requests.post(f"{stack.ingress_url}/queries/{key}/run", json=body, timeout=60)


def test_a_direct_promise_is_pulled_attached_and_pushed_as_the_same_bytes(
    stack: LocalStack,
) -> None:
    sql, key = tagged(DEMO_QUERY), f"direct-{uuid.uuid4()}"
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    pulled = run_direct(stack, key, body)
    assert pulled.status_code == 200, pulled.text
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    attached = requests.get(
        f"{stack.ingress_url}/restate/workflow/queries/{key}/attach", timeout=60
    )
    assert attached.content == pulled.content
    pushed = stack.wait_for_delivery(webhook_id_for(result["invocation_id"]))
    assert pushed["body"] == pulled.text
    assert list(executions_of(stack, sql)) == [result["query_execution_id"]]
    status = requests.post(f"{stack.ingress_url}/queries/{key}/status", timeout=60).json()
    assert (status["phase"], status["state"]) == ("done", "SUCCEEDED")


def test_a_bad_direct_request_is_a_400_naming_the_field_and_starts_nothing(
    stack: LocalStack,
) -> None:
    sql = tagged(DEMO_QUERY)
    refused = run_direct(stack, f"direct-{uuid.uuid4()}", {"query": sql, "max_rows": -1})
    assert refused.status_code == 400
    assert "max_rows" in refused.json()["message"]
    assert executions_of(stack, sql) == {}
