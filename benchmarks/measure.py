"""One query measured, through the durable promise or through the baseline loop."""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from benchmarks.baseline import run_polling_loop
from infra.local.stack import LocalStack
from service.models import DEMO_QUERY, webhook_id_for


@dataclass
class Sample:
    end_to_end_s: float
    overhead_s: float
    calls: int
    polls_before_completion: int
    completion_to_wakeup_s: float | None = None
    completion_to_push_s: float | None = None


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def athena_calls(stack: LocalStack, qid: str) -> tuple[int, int]:
    """All Athena calls naming this query, and the status polls made before it finished."""
    info = requests.get(f"{stack.athena_url}/_local/stats", timeout=10).json()["executions"][qid]
    return sum(info["calls"].values()), info["calls_before_completion"].get("GetQueryExecution", 0)


def awakeable_resolved_at(stack: LocalStack, invocation_id: str) -> float:
    """When Restate journaled the awakeable's completion (an awakeable is a signal)."""
    sql = (
        f"SELECT appended_at FROM sys_journal WHERE id = '{invocation_id}' "
        "AND entry_type = 'Notification: Signal' ORDER BY index LIMIT 1"
    )
    rows = requests.post(
        f"{stack.admin_url}/query",
        json={"query": sql},
        headers={"accept": "application/json"},
        timeout=10,
    ).json()["rows"]
    return parse_time(rows[0]["appended_at"])


def one_promise(stack: LocalStack) -> Sample:
    began = time.perf_counter()
    response = requests.post(
        f"{stack.ingress_url}/query/query",
        json={
            "query": f"{DEMO_QUERY} -- {uuid.uuid4()}",
            "callback_url": f"{stack.listener_url}/callback",
        },
        headers={"idempotency-key": str(uuid.uuid4())},
        timeout=120,
    )
    elapsed = time.perf_counter() - began
    result: dict[str, Any] = response.json()
    completed = parse_time(result["completed_at"])
    pushed = parse_time(
        stack.wait_for_delivery(webhook_id_for(result["invocation_id"]))["received_at"]
    )
    calls, polls = athena_calls(stack, result["query_execution_id"])
    return Sample(
        end_to_end_s=elapsed,
        overhead_s=elapsed - result["statistics"]["total_execution_time_ms"] / 1000,
        calls=calls,
        polls_before_completion=polls,
        completion_to_wakeup_s=awakeable_resolved_at(stack, result["invocation_id"]) - completed,
        completion_to_push_s=pushed - completed,
    )


def one_baseline(stack: LocalStack, client: Any) -> Sample:
    qid, elapsed = run_polling_loop(client, f"{DEMO_QUERY} -- {uuid.uuid4()}")
    execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    calls, polls = athena_calls(stack, qid)
    return Sample(
        end_to_end_s=elapsed,
        overhead_s=elapsed - execution["Statistics"]["TotalExecutionTimeInMillis"] / 1000,
        # The describe just above is the benchmark's, not the baseline's.
        calls=calls - 1,
        polls_before_completion=polls,
    )
