"""Upgrading without breaking promises in flight: a new deployment beside the old one.

Restate pins each invocation to the deployment it started on, and sends every new one to
the newest. So an upgrade registers the new deployment next to the old, and stops the old
one only once no invocation is pinned to it any more (drained). Calls a pinned promise
makes (to its mailbox, the sweeper, the delivery) go to the newest deployment: the kit's
messages between its objects must stay understood across one version.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.components import service_process
from infra.local.processes import free_port
from infra.local.stack import LocalStack, admin_sql
from tests.stack_support import attach, executions_of, running_execution, running_stack, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upgrading_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("upgrade")) as local_stack:
        yield local_stack


def deployments(stack: LocalStack) -> dict[str, str]:
    """Each deployment's id by its endpoint."""
    answer = requests.get(f"{stack.admin_url}/deployments", timeout=10)
    answer.raise_for_status()
    return {d["uri"].rstrip("/"): d["id"] for d in answer.json()["deployments"] if "uri" in d}


def pinned_to(stack: LocalStack, deployment_id: str) -> list[dict[str, Any]]:
    """Invocations still running on a deployment."""
    return admin_sql(
        stack.admin_url,
        "SELECT id, target FROM sys_invocation "
        f"WHERE pinned_deployment_id = '{deployment_id}' AND status != 'completed'",
    )


def test_a_promise_in_flight_finishes_on_its_deployment_while_new_ones_use_the_next(
    upgrading_stack: LocalStack, tmp_path: Path
) -> None:
    stack = upgrading_stack
    old_uri = stack.service_url
    sql = f"SELECT 6 AS i -- upgrade {time.time_ns()}\n-- local-athena: run_time_s=4"
    assert send(stack, {"query": sql}, "before-upgrade").status_code == 202
    running_execution(stack, sql)
    old_id = deployments(stack)[old_uri]
    assert any(row["target"].startswith("promise/") for row in pinned_to(stack, old_id))

    # The new version: another process on another port, registered beside the old one.
    port = free_port()
    new_service = service_process("service-next", port, stack.processes["service"].env, tmp_path)
    new_service.start()
    try:
        new_uri = f"http://127.0.0.1:{port}"
        registered = requests.post(
            f"{stack.admin_url}/deployments", json={"uri": new_uri}, timeout=30
        )
        assert registered.status_code in (200, 201), registered.text
        new_id = deployments(stack)[new_uri]
        assert new_id != old_id

        after_sql = f"SELECT 7 AS i -- upgrade {time.time_ns()}"
        after = requests.post(
            f"{stack.ingress_url}/query/query",
            json={"query": after_sql},
            headers={"idempotency-key": "after-upgrade"},
            timeout=60,
        )
        assert after.json()["rows"] == [[7]]
        started_on_new = admin_sql(
            stack.admin_url,
            "SELECT pinned_deployment_id FROM sys_invocation "
            f"WHERE id = '{after.headers['x-restate-id']}'",
        )
        assert started_on_new == [{"pinned_deployment_id": new_id}]

        # The promise that started before the upgrade ends on the old code, with its answer.
        before = attach(stack, "before-upgrade", timeout=60).json()
        assert (before["state"], before["rows"]) == ("SUCCEEDED", [[6]])
        assert len(executions_of(stack, sql)) == 1

        # Drained: nothing pinned to the old deployment any more, so it may go.
        deadline = time.monotonic() + 30
        while pinned_to(stack, old_id) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pinned_to(stack, old_id) == []
        removed = requests.delete(f"{stack.admin_url}/deployments/{old_id}?force=true", timeout=30)
        assert removed.status_code in (200, 202, 204), removed.text
        stack.processes["service"].stop()
        again = requests.post(
            f"{stack.ingress_url}/query/query",
            json={"query": "SELECT 8 AS i"},
            headers={"idempotency-key": "after-the-old-one-went"},
            timeout=60,
        )
        assert again.status_code == 200, again.text
        assert again.json()["rows"] == [[8]]
    finally:
        new_service.stop()
