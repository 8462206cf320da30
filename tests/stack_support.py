"""Helpers for end-to-end tests: a real local stack on free ports, and small HTTP helpers."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from infra.local.processes import ManagedProcess, free_port
from infra.local.stack import ROOT, LocalStack, Ports, StackConfig


@contextmanager
def running_stack(tmp: Path, **overrides: Any) -> Iterator[LocalStack]:
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "data" / "sample.jsonl", data_dir / "sample.jsonl")
    # The further databases, a folder each (data/<database>/<table>.jsonl and its schema).
    for folder in (ROOT / "data").iterdir():
        if folder.is_dir() and any(folder.glob("*.schema.json")):
            shutil.copytree(folder, data_dir / folder.name, dirs_exist_ok=True)
    config = StackConfig(base_dir=tmp / "restate", data_dir=data_dir, ports=Ports.free())
    for name, value in overrides.items():
        setattr(config, name, value)
    stack = LocalStack(config)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def tagged(sql: str, *hints: str) -> str:
    """A query made unique by a comment, so Athena's records of it belong to one test."""
    hint = f"\n-- local-athena: {' '.join(hints)}" if hints else ""
    return f"{sql}\n-- test {uuid.uuid4()}{hint}"


def submit(
    stack: LocalStack, body: Any, key: str | None = None, timeout: float = 60
) -> requests.Response:
    return requests.post(
        f"{stack.ingress_url}/query/query",
        data=body if isinstance(body, (bytes, str)) else json.dumps(body),
        headers={"idempotency-key": key or str(uuid.uuid4()), "content-type": "application/json"},
        timeout=timeout,
    )


def send(stack: LocalStack, body: Any, key: str) -> requests.Response:
    return requests.post(
        f"{stack.ingress_url}/query/query/send",
        json=body,
        headers={"idempotency-key": key},
        timeout=30,
    )


def attach(stack: LocalStack, key: str, timeout: float = 60) -> requests.Response:
    return requests.get(
        f"{stack.ingress_url}/restate/invocation/query/query/{key}/attach", timeout=timeout
    )


def send_direct(stack: LocalStack, body: Any, key: str) -> requests.Response:
    """The direct entry without waiting: `POST /queries/{key}/run/send`."""
    return requests.post(f"{stack.ingress_url}/queries/{key}/run/send", json=body, timeout=30)


def attach_direct(stack: LocalStack, key: str, timeout: float = 60) -> requests.Response:
    return requests.get(
        f"{stack.ingress_url}/restate/workflow/queries/{key}/attach", timeout=timeout
    )


def athena_stats(stack: LocalStack) -> dict[str, Any]:
    response = requests.get(f"{stack.athena_url}/_local/stats", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def executions_of(stack: LocalStack, sql: str) -> dict[str, dict[str, Any]]:
    executions = athena_stats(stack)["executions"]
    return {qid: info for qid, info in executions.items() if info["query"] == sql}


def running_execution(stack: LocalStack, sql: str) -> str:
    """The id of this query once Athena runs it."""

    def running() -> str | None:
        for qid, info in executions_of(stack, sql).items():
            if info["state"] == "RUNNING":
                return qid
        return None

    return str(wait_until(running, 30, "the query to be RUNNING on Athena"))


def configure_athena(stack: LocalStack, **config: Any) -> None:
    requests.post(f"{stack.athena_url}/_local/config", json=config, timeout=10).raise_for_status()


def run_poller(
    stack: LocalStack, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poller", "--ingress", stack.ingress_url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def delivery_status(stack: LocalStack, webhook_id: str) -> dict[str, Any] | None:
    response = requests.post(f"{stack.ingress_url}/webhookDelivery/{webhook_id}/status", timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def deliveries(listener_url: str) -> list[dict[str, Any]]:
    response = requests.get(f"{listener_url}/deliveries", timeout=10)
    response.raise_for_status()
    return list(response.json())


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll until `predicate()` is truthy and return it; fail with `what` if it never is."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def extra_listener(stack: LocalStack, tmp: Path, *args: str) -> tuple[ManagedProcess, str]:
    """A listener of its own on a free port (not started yet), e.g. with `--fail-first 2`."""
    port = free_port()
    process = ManagedProcess(
        f"listener-{port}",
        [
            sys.executable,
            "-m",
            "listener",
            "--port",
            str(port),
            "--store",
            str(tmp / f"{port}.db"),
            *args,
        ],
        {**os.environ, "WEBHOOK_SECRET": stack.config.webhook_secret, "PYTHONUNBUFFERED": "1"},
        stack.log_dir,
        f"http://127.0.0.1:{port}/health",
    )
    return process, f"http://127.0.0.1:{port}"
