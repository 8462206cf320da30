"""The whole pull and push path with the service on Lambda, locally (issue 14).

restate-server (with `AWS_ENDPOINT_URL_LAMBDA`) registers the deployment by its Lambda ARN and
sends Lambda Invoke calls to the local Lambda endpoint, whose worker processes run the SDK's
own Lambda handler of `service.app`. The local Athena, the listener and request identity are
as in the local stack. Nothing is mocked: every process is real, on free ports.
"""

import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from infra.local.components import EVENTS_PATH, EVENTS_STATES
from infra.local.config import RESTATE_SERVER, ROOT, webhook_secret
from infra.local.identity import request_identity
from infra.local.lambda_endpoint import lambda_cost
from infra.local.lambda_endpoint.wiring import (
    function_arn,
    lambda_process,
    registration,
    restate_lambda_env,
)
from infra.local.processes import ManagedProcess, free_port
from tests.stack_support import wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the Lambda endpoint, ...

INVOCATIONS_SQL = "SELECT target, status FROM sys_invocation"
MULTI_PAGE_SQL = "SELECT x FROM UNNEST(sequence(1, 2500)) AS t(x)"


@dataclass
class LambdaStack:
    ingress: str
    admin: str
    athena: str
    lambda_url: str
    listener: str
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def callback(self) -> str:
        return f"{self.listener}/callback"


def local(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaStack]:
    tmp = tmp_path_factory.mktemp("lambda-stack")
    identity = request_identity(tmp)
    ingress, admin, fabric, athena, lam, listener = (free_port() for _ in range(6))
    secret = webhook_secret()
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    restate_env = {
        **base_env,
        **restate_lambda_env(lam),
        "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ingress}",
        "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{admin}",
        "RESTATE_BIND_ADDRESS": f"127.0.0.1:{fabric}",
        "RESTATE_ADVERTISED_ADDRESS": f"{local(fabric)}/",
        "RESTATE_DISABLE_TELEMETRY": "true",
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "2s",
        "RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE": str(identity.private_key_pem),
    }
    # What the function's environment would hold on AWS, pointed at the local stand-ins.
    service_env = {
        **base_env,
        "AWS_ENDPOINT_URL_ATHENA": local(athena),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "COMPLETION_MODE": "both",
        "ALLOW_PRIVATE_CALLBACKS": "true",
        "WEBHOOK_SECRET": secret,
        "RESTATE_IDENTITY_KEYS": identity.public_key,
    }
    python = sys.executable
    restate_command = [str(RESTATE_SERVER), "--base-dir", str(tmp / "restate")]
    athena_command = [python, "-m", "infra.local.athena", "--port", str(athena)]
    athena_command += ["--data", str(ROOT / "data"), "--results-dir", str(tmp / "results")]
    # Events as the local stack sends them: to the query's own mailbox, for these states.
    athena_command += ["--events-url", f"{local(ingress)}{EVENTS_PATH}"]
    athena_command += ["--events-states", EVENTS_STATES]
    processes = [
        ManagedProcess(
            "restate",
            [*restate_command, "--no-logo", "--listen-mode", "tcp"],
            restate_env,
            tmp,
            f"{local(admin)}/health",
            ports=[ingress, admin, fabric],
        ),
        ManagedProcess(
            "athena",
            athena_command,
            base_env,
            tmp,
            f"{local(athena)}/_local/health",
            ports=[athena],
        ),
        lambda_process(lam, service_env, tmp),
        ManagedProcess(
            "listener",
            [python, "-m", "listener", "--port", str(listener), "--store", str(tmp / "store.db")],
            {**base_env, "WEBHOOK_SECRET": secret},
            tmp,
            f"{local(listener)}/health",
            ports=[listener],
        ),
    ]
    started: list[ManagedProcess] = []
    try:
        for process in processes:
            process.start()
            started.append(process)
        response = requests.post(
            f"{local(admin)}/deployments", json=registration(function_arn()), timeout=60
        )
        assert response.status_code in (200, 201), response.text
        yield LambdaStack(
            local(ingress), local(admin), local(athena), local(lam), local(listener), started
        )
    finally:
        for process in reversed(started):
            process.stop()


def tagged(sql: str, *hints: str) -> str:
    """A query made unique by a comment, so Athena's records of it belong to one test."""
    hint = f"\n-- local-athena: {' '.join(hints)}" if hints else ""
    return f"{sql}\n-- test {uuid.uuid4()}{hint}"


def submit(stack: LambdaStack, body: dict[str, Any], key: str, path: str = "") -> requests.Response:
    return requests.post(
        f"{stack.ingress}/query/query{path}",
        json=body,
        headers={"idempotency-key": key},
        timeout=120,
    )


def attach(stack: LambdaStack, key: str) -> requests.Response:
    return requests.get(f"{stack.ingress}/restate/invocation/query/query/{key}/attach", timeout=120)


def get_json(url: str) -> Any:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


def lambda_stats(stack: LambdaStack) -> dict[str, Any]:
    return dict(get_json(f"{stack.lambda_url}/_local/stats"))


def executions_of(stack: LambdaStack, sql: str) -> dict[str, Any]:
    executions = get_json(f"{stack.athena}/_local/stats")["executions"]
    return {qid: info for qid, info in executions.items() if info["query"] == sql}


def delivery(stack: LambdaStack, webhook_id: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.listener}/deliveries/{webhook_id}", timeout=10)
    return dict(response.json()) if response.status_code == 200 else None


def invocation_statuses(stack: LambdaStack, target_prefix: str) -> list[str]:
    """What Restate says of the invocations of a handler (its SQL introspection API)."""
    response = requests.post(
        f"{stack.admin}/query",
        json={"query": f"{INVOCATIONS_SQL} WHERE target LIKE '{target_prefix}%'"},
        headers={"accept": "application/json"},
        timeout=10,
    )
    response.raise_for_status()
    return [row["status"] for row in response.json()["rows"]]


def pushed_equals_pulled(stack: LambdaStack, pulled: requests.Response) -> dict[str, Any]:
    webhook_id = f"msg_{pulled.json()['invocation_id']}"
    pushed = wait_until(lambda: delivery(stack, webhook_id), 30, f"webhook {webhook_id}")
    assert pushed["body"].encode() == pulled.content
    return dict(pushed)


def test_the_demo_query_runs_on_lambda_pushed_and_pulled_alike(stack: LambdaStack) -> None:
    before = lambda_stats(stack)
    key = str(uuid.uuid4())
    pulled = submit(stack, {"callback_url": stack.callback}, key)
    assert pulled.status_code == 200, pulled.text
    result = pulled.json()
    assert (result["state"], result["rows"]) == ("SUCCEEDED", [[42.0]])
    assert pushed_equals_pulled(stack, pulled)["attempts"] == 1
    assert attach(stack, key).content == pulled.content  # attaching later: the same bytes
    after = wait_until(
        lambda: (stats := lambda_stats(stack))["in_flight"] == 0 and stats, 30, "no invocation"
    )
    cost = lambda_cost(before, after, queries=1)
    print(cost.row())
    assert cost.invocations_per_query >= 3 and cost.errors == 0 and cost.throttles == 0


def test_a_multi_page_result_arrives_whole_on_both_paths(stack: LambdaStack) -> None:
    sql = tagged(MULTI_PAGE_SQL)
    pages_before = get_json(f"{stack.athena}/_local/stats")["calls"].get("GetQueryResults", 0)
    pulled = submit(stack, {"query": sql, "callback_url": stack.callback}, str(uuid.uuid4()))
    assert pulled.status_code == 200, pulled.text
    result = pulled.json()
    assert (result["state"], result["row_count"], result["truncated"]) == ("SUCCEEDED", 2500, False)
    assert sorted(row[0] for row in result["rows"]) == list(range(1, 2501))
    pages = get_json(f"{stack.athena}/_local/stats")["calls"]["GetQueryResults"] - pages_before
    assert pages >= 3  # 1000 rows a page, the header row first
    pushed_equals_pulled(stack, pulled)


def test_a_waiting_promise_is_suspended_with_no_lambda_running(stack: LambdaStack) -> None:
    sql = tagged("SELECT 7 AS answer", "run_time_s=20")
    key = str(uuid.uuid4())
    sent = submit(stack, {"query": sql, "callback_url": stack.callback}, key, "/send")
    assert sent.status_code in (200, 202), sent.text
    submitted = time.monotonic()
    wait_until(
        lambda: any(info["state"] == "RUNNING" for info in executions_of(stack, sql).values()),
        30,
        "the query to run on Athena",
    )
    # Restate suspended the promise: the handler returned, nothing of it runs on Lambda.
    wait_until(lambda: "suspended" in invocation_statuses(stack, "promise/"), 15, "suspension")
    settled = wait_until(
        lambda: (stats := lambda_stats(stack))["in_flight"] == 0 and stats, 10, "quiet"
    )
    samples = []
    while time.monotonic() - submitted < 15:
        samples.append(lambda_stats(stack))
        time.sleep(0.5)
    assert [sample["in_flight"] for sample in samples] == [0] * len(samples)
    assert samples[-1]["invocations"] == settled["invocations"], "nothing was invoked meanwhile"
    assert "suspended" in invocation_statuses(stack, "promise/")

    pulled = attach(stack, key)
    assert pulled.json()["state"] == "SUCCEEDED", pulled.text
    assert time.monotonic() - submitted >= 20
    pushed_equals_pulled(stack, pulled)


class HoldFirstCallback:
    """A callback URL in front of the listener: it holds the first webhook attempt (so the
    invocation sending it stays in flight) and forwards every later one to the listener."""

    def __init__(self, listener_callback: str) -> None:
        self.calls = 0
        self.held = threading.Event()
        self.release = threading.Event()
        hold = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                hold.calls += 1
                if hold.calls == 1:
                    hold.held.set()
                    hold.release.wait(30)
                    return  # the client is gone by now; nothing to answer
                forwarded = requests.post(
                    listener_callback,
                    data=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=10,
                )
                self.send_response(forwarded.status_code)
                self.send_header("content-length", str(len(forwarded.content)))
                self.end_headers()
                self.wfile.write(forwarded.content)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_worker_killed_mid_invocation_is_retried_without_doubles(stack: LambdaStack) -> None:
    sql = tagged("SELECT 'killed' AS worker")
    key = str(uuid.uuid4())
    callback = HoldFirstCallback(stack.callback)
    before = lambda_stats(stack)
    try:
        sent = submit(stack, {"query": sql, "callback_url": callback.url}, key, "/send")
        assert sent.status_code in (200, 202), sent.text
        assert callback.held.wait(60), "the first webhook attempt never arrived"
        running = [
            call
            for call in lambda_stats(stack)["running"]
            if call["path"] == "/invoke/promise/run"  # it makes the first attempt itself
        ]
        assert len(running) == 1 and running[0]["worker_pid"], running
        os.kill(running[0]["worker_pid"], signal.SIGKILL)  # the execution environment dies

        pulled = attach(stack, key)
        assert pulled.json()["state"] == "SUCCEEDED", pulled.text
        pushed = pushed_equals_pulled(stack, pulled)
    finally:
        callback.close()
    after = lambda_stats(stack)
    assert after["crashes"] - before["crashes"] == 1
    assert callback.calls == 2  # Restate retried the delivery, on a new worker
    assert len(executions_of(stack, sql)) == 1  # one Athena execution
    assert pushed["attempts"] == 1  # one delivery reached the listener
    webhook_ids = [item["webhook_id"] for item in get_json(f"{stack.listener}/deliveries")]
    assert webhook_ids.count(pushed["webhook_id"]) == 1


def test_cost_per_query_on_lambda_is_a_few_short_invocations(stack: LambdaStack) -> None:
    """What `make bench` reports for Lambda: invocations and billed ms per query, warm."""
    submit(stack, {}, str(uuid.uuid4()))  # every worker the queries need is warm after this
    before = lambda_stats(stack)
    queries = [tagged("SELECT 42 AS answer") for _ in range(5)]
    for sql in queries:
        pulled = submit(stack, {"query": sql, "callback_url": stack.callback}, str(uuid.uuid4()))
        assert pulled.json()["state"] == "SUCCEEDED", pulled.text
        pushed_equals_pulled(stack, pulled)
    after = wait_until(
        lambda: (stats := lambda_stats(stack))["in_flight"] == 0 and stats, 30, "no invocation"
    )
    cost = lambda_cost(before, after, queries=len(queries))
    print(cost.row())
    assert cost.errors == 0 and cost.throttles == 0
    # Short invocations only: Restate suspends the promise while Athena runs.
    assert 3 <= cost.invocations_per_query <= 60
    assert cost.billed_ms_per_query < 2000
