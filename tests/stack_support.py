"""Helpers for end-to-end tests: a real local stack on free ports, and small HTTP helpers."""

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from infra.local.stack import ROOT, LocalStack, Ports, StackConfig


@contextmanager
def running_stack(tmp: Path, **overrides: Any) -> Iterator[LocalStack]:
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "data" / "sample.jsonl", data_dir / "sample.jsonl")
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


def athena_stats(stack: LocalStack) -> dict[str, Any]:
    response = requests.get(f"{stack.athena_url}/_local/stats", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def executions_of(stack: LocalStack, sql: str) -> dict[str, dict[str, Any]]:
    executions = athena_stats(stack)["executions"]
    return {qid: info for qid, info in executions.items() if info["query"] == sql}


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
