"""`python -m benchmarks [--queries N]`: latency and Athena calls of the durable promise.

For each completion mode and for a plain boto3 loop that polls every 100 ms, on the same local
stack and the same query, in the same run. Prints figures; asserts nothing.
"""

import argparse
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.baseline import athena_client, run_polling_loop
from benchmarks.stats import mean, summary_ms
from infra.local.stack import ROOT, LocalStack, Ports, StackConfig

SQL = 'SELECT sum("table"."value") AS answer FROM "demo_db"."table"'


@dataclass
class Figures:
    name: str
    end_to_end_s: list[float] = field(default_factory=list)
    overhead_s: list[float] = field(default_factory=list)
    completion_to_wakeup_s: list[float] = field(default_factory=list)
    completion_to_push_s: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    status_calls_before_completion: list[int] = field(default_factory=list)


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def athena_calls(stack: LocalStack, qid: str) -> tuple[int, int]:
    info = requests.get(f"{stack.athena_url}/_local/stats", timeout=10).json()["executions"][qid]
    before = info["calls_before_completion"].get("GetQueryExecution", 0)
    return sum(info["calls"].values()), before


def awakeable_resolved_at(stack: LocalStack, invocation_id: str) -> float:
    """When Restate journaled the awakeable's completion (an awakeable is a signal)."""
    sql = (
        "SELECT appended_at FROM sys_journal WHERE id = '"
        + invocation_id
        + "' AND entry_type = 'Notification: Signal' ORDER BY index LIMIT 1"
    )
    rows = requests.post(
        f"{stack.admin_url}/query",
        json={"query": sql},
        headers={"accept": "application/json"},
        timeout=10,
    ).json()["rows"]
    return parse_time(rows[0]["appended_at"])


def pushed_at(stack: LocalStack, webhook_id: str) -> float | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = requests.get(f"{stack.listener_url}/deliveries/{webhook_id}", timeout=10)
        if response.status_code == 200:
            return parse_time(response.json()["received_at"])
        time.sleep(0.05)
    return None


def measure_mode(stack: LocalStack, mode: str, queries: int) -> Figures:
    service = stack.processes["service"]
    service.env["COMPLETION_MODE"] = mode
    stack.restart("service", kill=False)
    figures = Figures(f"restate ({mode})")
    for _ in range(queries):
        began = time.perf_counter()
        response = requests.post(
            f"{stack.ingress_url}/query/query",
            json={
                "query": f"{SQL} -- {uuid.uuid4()}",
                "callback_url": f"{stack.listener_url}/callback",
            },
            headers={"idempotency-key": str(uuid.uuid4())},
            timeout=120,
        )
        received = time.time()
        figures.end_to_end_s.append(time.perf_counter() - began)
        result: dict[str, Any] = response.json()
        figures.overhead_s.append(
            figures.end_to_end_s[-1] - result["statistics"]["total_execution_time_ms"] / 1000
        )
        completed = parse_time(result["completed_at"])
        figures.completion_to_wakeup_s.append(
            awakeable_resolved_at(stack, result["invocation_id"]) - completed
        )
        del received
        push = pushed_at(stack, f"msg_{result['invocation_id']}")
        if push is not None:
            figures.completion_to_push_s.append(push - completed)
        total, before = athena_calls(stack, result["query_execution_id"])
        figures.calls.append(total)
        figures.status_calls_before_completion.append(before)
    return figures


def measure_baseline(stack: LocalStack, queries: int) -> Figures:
    client = athena_client(stack.athena_url)
    figures = Figures("boto3 loop, 100 ms poll")
    for _ in range(queries):
        qid, elapsed, _completed = run_polling_loop(client, f"{SQL} -- {uuid.uuid4()}")
        figures.end_to_end_s.append(elapsed)
        execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        total_ms = execution["Statistics"]["TotalExecutionTimeInMillis"]
        figures.overhead_s.append(elapsed - total_ms / 1000)
        total, before = athena_calls(stack, qid)
        # The extra describe above is the benchmark's, not the baseline's.
        figures.calls.append(total - 1)
        figures.status_calls_before_completion.append(before)
    return figures


def report(rows: list[Figures], queries: int) -> None:
    print(f"\n{queries} queries each; Athena (local): ~0.3 s queued + 1.5 s running. Times in ms.")
    print(
        f"{'':26} {'end-to-end p50/p95/p99':>24} {'overhead p50/p95/p99':>24} "
        f"{'completion->wake-up':>24} {'completion->webhook':>24} {'calls/q':>8} {'polls/q':>8}"
    )
    for row in rows:
        wakeup = summary_ms(row.completion_to_wakeup_s) if row.completion_to_wakeup_s else "n/a"
        push = summary_ms(row.completion_to_push_s) if row.completion_to_push_s else "n/a"
        print(
            f"{row.name:26} {summary_ms(row.end_to_end_s):>24} {summary_ms(row.overhead_s):>24} "
            f"{wakeup:>24} {push:>24} {mean([float(c) for c in row.calls]):8.1f} "
            f"{mean([float(c) for c in row.status_calls_before_completion]):8.1f}"
        )
    print(
        "overhead = end-to-end minus Athena's TotalExecutionTime; calls/q = Athena API calls per "
        "query; polls/q = GetQueryExecution calls before the query finished."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20, help="queries per configuration")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    shutil.copy(ROOT / "data" / "sample.jsonl", data_dir)
    config = StackConfig(base_dir=workdir / "restate", data_dir=data_dir, ports=Ports.free())
    print("Starting the local stack on free ports...", flush=True)
    rows = []
    try:
        with LocalStack(config) as stack:
            rows.append(measure_baseline(stack, args.queries))
            for mode in ("events", "both", "poll"):
                print(f"Measuring COMPLETION_MODE={mode}...", flush=True)
                rows.append(measure_mode(stack, mode, args.queries))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(rows, args.queries)


if __name__ == "__main__":
    main()
