"""One query measured, through the durable promise or through the baseline loop.

A query first runs (`one_promise`, `one_baseline`: only what a caller would do), then, once
the whole row is over and its costs are taken, `finish` looks up what the figures need, so
the look-ups cost neither throughput nor the row's CPU.
"""

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.baseline import run_polling_loop
from benchmarks.costs import admin_sql
from infra.local.stack import ROOT, LocalStack
from service.models import DEMO_QUERY, webhook_id_for

_clients = threading.local()


def client_session() -> requests.Session:
    """This thread's connection to the ingress, kept alive between its queries, as a real
    caller's HTTP client keeps it (and as the baseline's boto3 client keeps its own): a fresh
    `requests.post` builds a session and opens a connection each time, 0.3 to 1.4 ms a call
    on this machine (refusals, interleaved), all of it counted as the promise's overhead."""
    session: requests.Session | None = getattr(_clients, "session", None)
    if session is None:
        session = _clients.session = requests.Session()
    return session


def scratch_workdir(prefix: str) -> Path:
    """A temporary folder with a copy of the sample data: each run's Restate state starts
    empty and is thrown away with it."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    (workdir / "data").mkdir()
    shutil.copy(ROOT / "data" / "sample.jsonl", workdir / "data")
    return workdir


@dataclass
class Run:
    """What one query left behind, to be looked up after the row."""

    query_execution_id: str
    elapsed_s: float
    athena_total_s: float
    invocation_id: str | None = None
    completed_at: float | None = None
    # What its webhook is sent with; None when it is not pushed.
    webhook_id: str | None = None


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
    """When Restate journaled the awakeable's completion (an awakeable is a signal), in the
    invocation that parked on it: the query's own, or the promise workflow it started."""
    parked = admin_sql(
        stack,
        f"SELECT id FROM sys_invocation WHERE id = '{invocation_id}' "
        f"OR target_service_key = '{invocation_id}'",
    )
    ids = ", ".join(f"'{row['id']}'" for row in parked)
    rows = admin_sql(
        stack,
        f"SELECT appended_at FROM sys_journal WHERE id IN ({ids}) "
        "AND entry_type = 'Notification: Signal' ORDER BY appended_at LIMIT 1",
    )
    return parse_time(rows[0]["appended_at"])


def one_promise(stack: LocalStack, push: bool = True) -> Run:
    """Through the front: `POST /query/query` with an idempotency key."""
    key = str(uuid.uuid4())
    url, headers = f"{stack.ingress_url}/query/query", {"idempotency-key": key}
    return _promise_run(stack, url, headers, push, webhook_id_for)


def one_direct(stack: LocalStack, push: bool = True) -> Run:
    """Through the direct entry: `POST /queries/{key}/run`, the workflow of the key."""
    key = str(uuid.uuid4())
    url = f"{stack.ingress_url}/queries/{key}/run"
    return _promise_run(stack, url, {}, push, lambda invocation: webhook_id_for(invocation, key))


def _promise_run(
    stack: LocalStack,
    url: str,
    headers: dict[str, str],
    push: bool,
    webhook_id: Callable[[str], str],
) -> Run:
    began = time.perf_counter()
    body = {"query": f"{DEMO_QUERY} -- {uuid.uuid4()}"}
    if push:
        body["callback_url"] = f"{stack.listener_url}/callback"
    response = client_session().post(url, json=body, headers=headers, timeout=300)
    elapsed = time.perf_counter() - began
    result: dict[str, Any] = response.json()
    return Run(
        query_execution_id=result["query_execution_id"],
        elapsed_s=elapsed,
        athena_total_s=result["statistics"]["total_execution_time_ms"] / 1000,
        invocation_id=result["invocation_id"],
        completed_at=parse_time(result["completed_at"]),
        webhook_id=webhook_id(result["invocation_id"]) if push else None,
    )


def one_refusal(stack: LocalStack) -> Run:
    """The cheapest Restate invocation the service has: `query/query` refusing a bad request
    (400) before any step. What every invocation costs, whatever its handler does."""
    began = time.perf_counter()
    response = client_session().post(
        f"{stack.ingress_url}/query/query",
        json={"max_rows": -1},
        headers={"idempotency-key": str(uuid.uuid4())},
        timeout=300,
    )
    if response.status_code != 400:
        raise RuntimeError(f"Expected the bad request to be refused (400), got: {response.text}")
    return Run(query_execution_id="", elapsed_s=time.perf_counter() - began, athena_total_s=0.0)


def one_baseline(stack: LocalStack, client: Any, interval_s: float = 0.1) -> Run:
    qid, elapsed = run_polling_loop(client, f"{DEMO_QUERY} -- {uuid.uuid4()}", interval_s)
    return Run(query_execution_id=qid, elapsed_s=elapsed, athena_total_s=0.0)


def finish(stack: LocalStack, client: Any, run: Run) -> Sample:
    calls, polls = athena_calls(stack, run.query_execution_id)
    if run.invocation_id is None or run.completed_at is None or run.webhook_id is None:
        execution = client.get_query_execution(QueryExecutionId=run.query_execution_id)
        total_s = execution["QueryExecution"]["Statistics"]["TotalExecutionTimeInMillis"] / 1000
        # The describe just above is the benchmark's, not the baseline's.
        return Sample(run.elapsed_s, run.elapsed_s - total_s, calls - 1, polls)
    delivery = stack.wait_for_delivery(run.webhook_id)
    return Sample(
        end_to_end_s=run.elapsed_s,
        overhead_s=run.elapsed_s - run.athena_total_s,
        calls=calls,
        polls_before_completion=polls,
        completion_to_wakeup_s=awakeable_resolved_at(stack, run.invocation_id) - run.completed_at,
        completion_to_push_s=parse_time(delivery["received_at"]) - run.completed_at,
    )


def run_all(
    stack: LocalStack,
    measure: Callable[[], Run],
    queries: int,
    in_flight: int,
    pushed: Callable[[Run], str | None] | None = None,
) -> tuple[list[Run], float]:
    """A row's runs, `in_flight` at once, and its seconds: to the last pull, or, where `pushed`
    gives each run's webhook-id, to the last push. The listener's count tells when the last
    push landed; each webhook-id is checked afterwards (`check_pushed`), outside the row."""
    stored = stack.deliveries_stored()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        runs = list(pool.map(lambda _: measure(), range(queries)))
    if pushed is not None:
        stack.wait_for_deliveries_stored(stored + sum(1 for one in runs if pushed(one)))
    return runs, time.perf_counter() - began


def check_pushed(stack: LocalStack, runs: list[Run], pushed: Callable[[Run], str | None]) -> None:
    """Each run's webhook stored by its webhook-id: after the row, so it costs the row nothing."""
    for webhook_id in filter(None, map(pushed, runs)):
        stack.wait_for_delivery(webhook_id, timeout_s=300)


def wait_for(what: str, so_far: Callable[[], int], goal: int, timeout_s: float) -> float:
    """Seconds until `so_far()` reaches `goal`, saying how far it got every 30 s meanwhile."""
    began = said = time.monotonic()
    while (reached := so_far()) < goal:
        now = time.monotonic()
        if now - began > timeout_s:
            raise TimeoutError(f"{what}: {reached} of {goal} after {timeout_s:g} s")
        if now - said >= 30:
            print(f"  ... {what}: {reached} of {goal} after {now - began:.0f} s", flush=True)
            said = now
        time.sleep(2)
    return time.monotonic() - began
