"""The Temporal peer's rows in `make bench`, measured on the same local stack and in the same
run as the Restate rows: latency at 1 and K in flight, throughput at 100 with pull and push.

While they run, the local Athena sends its events to the peer's bridge (final states only,
as a Temporal deployment's rule would: the workflow needs nothing else); its settings are
put back afterwards. CPU is measured as `benchmarks/costs.py` does (each process group from
/proc); the client's is this process's own, since the Temporal client runs here.
"""

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import requests
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from benchmarks.costs import group_cpu_s
from benchmarks.measure import Run, Sample, athena_calls, check_pushed, parse_time, run_all
from benchmarks.stats import mean, print_table, summary_ms
from benchmarks.temporal_peer.processes import TemporalPeer
from benchmarks.temporal_peer.shared import QueryInput
from benchmarks.temporal_peer.starter import connect, run_query
from infra.local.athena.config import LocalAthenaConfig
from infra.local.stack import LocalStack
from service.models import DEMO_QUERY, webhook_id_for

T = TypeVar("T")
CPU_COLUMNS = ("server", "worker", "bridge", "client", "athena", "listener")
ATHENA_TIMING = {
    name: LocalAthenaConfig.model_fields[name].default for name in ("queue_delay_s", "run_time_s")
}
QUICK = {"queue_delay_s": 0, "run_time_s": 0}


class ClientLoop:
    """One Temporal client on an event loop of its own, shared by the benchmark's threads
    (one client per process, as Temporal advises)."""

    def __init__(self, target: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: Client = self.run(connect(target))

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def one_query(stack: LocalStack, client: ClientLoop, push: bool = True) -> Run:
    began = time.perf_counter()
    callback_url = f"{stack.listener_url}/callback" if push else None
    request = QueryInput(query=f"{DEMO_QUERY} -- {uuid.uuid4()}", callback_url=callback_url)
    result = client.run(run_query(client.client, request))
    elapsed = time.perf_counter() - began
    assert result.query_execution_id and result.completed_at, result
    return Run(
        query_execution_id=result.query_execution_id,
        elapsed_s=elapsed,
        athena_total_s=(result.statistics.total_execution_time_ms or 0) / 1000,
        invocation_id=result.invocation_id,
        completed_at=result.completed_at.timestamp(),
    )


def cpu_now(stack: LocalStack, peer: TemporalPeer) -> dict[str, float]:
    groups = {**peer.processes, "athena": stack.processes["athena"]}
    groups["listener"] = stack.processes["listener"]
    cpu = {name: group_cpu_s(p.pid) for name, p in groups.items() if p.pid is not None}
    return cpu | {"client": time.process_time()}


async def history(client: Client, workflow_id: str) -> tuple[int, float | None]:
    """How many events the workflow's history holds, and when it was first signalled."""
    events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
    signalled = [
        e.event_time.ToDatetime().timestamp()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    return len(events), signalled[0] if signalled else None


def pushed_by_key(run: Run) -> str:
    """The webhook-id the peer's workflow pushes with: from its key, as the promise's is."""
    return webhook_id_for(str(run.invocation_id))


class Rows:
    """The peer's rows, in the shape `benchmarks.stats.print_table` prints."""

    def __init__(self, stack: LocalStack, peer: TemporalPeer, client: ClientLoop) -> None:
        self.stack, self.peer, self.client = stack, peer, client
        self.latency: list[list[str]] = []
        self.throughput: list[list[str]] = []

    def measure(
        self, measure: Callable[[], Run], queries: int, in_flight: int, push: bool
    ) -> tuple[list[Run], float, list[str]]:
        time.sleep(2)  # as the Restate rows: the previous row's stragglers settle first
        before, seen = cpu_now(self.stack, self.peer), self.bridge_stats()
        pushed = pushed_by_key if push else None
        runs, took = run_all(self.stack, measure, queries, in_flight, pushed)
        time.sleep(2)
        after = cpu_now(self.stack, self.peer)
        if pushed is not None:
            check_pushed(self.stack, runs, pushed)
        cpu = [f"{(after[c] - before.get(c, 0.0)) * 1000 / queries:.1f}" for c in CPU_COLUMNS]
        lengths = [self.client.run(history(self.client.client, str(r.invocation_id))) for r in runs]
        cpu.append(f"{mean([float(length) for length, _ in lengths]):.1f}")
        now = self.bridge_stats()
        cpu += [f"{(now[name] - seen[name]) / queries:.2f}" for name in ("lookups", "unfound")]
        return runs, took, cpu

    def bridge_stats(self) -> dict[str, int]:
        return dict(requests.get(f"{self.peer.bridge_url}/stats", timeout=10).json())

    def latency_row(self, name: str, queries: int, in_flight: int) -> None:
        measure = lambda: one_query(self.stack, self.client)  # noqa: E731
        runs, took, costs = self.measure(measure, queries, in_flight, push=True)
        samples = [self.sample(one) for one in runs]
        self.latency.append(
            [
                f"{name} ({in_flight} in flight)",
                summary_ms([s.end_to_end_s for s in samples]),
                summary_ms([s.overhead_s for s in samples]),
                _column([s.completion_to_wakeup_s for s in samples]),
                _column([s.completion_to_push_s for s in samples]),
                f"{mean([float(s.calls) for s in samples]):.1f}",
                f"{mean([float(s.polls_before_completion) for s in samples]):.1f}",
                f"{queries / took:.2f}",
                *costs,
            ]
        )

    def throughput_row(self, name: str, queries: int, push: bool) -> None:
        measure = lambda: one_query(self.stack, self.client, push)  # noqa: E731
        runs, took, costs = self.measure(measure, queries, 100, push)
        p50 = sorted(one.elapsed_s for one in runs)[len(runs) // 2]
        self.throughput.append([f"{name} (100 in flight)", f"{p50 * 1000:.0f}"])
        self.throughput[-1] += [f"{queries / took:.1f}", *costs]

    def sample(self, run: Run) -> Sample:
        calls, polls = athena_calls(self.stack, run.query_execution_id)
        delivery = self.stack.wait_for_delivery(webhook_id_for(str(run.invocation_id)))
        _, signalled = self.client.run(history(self.client.client, str(run.invocation_id)))
        assert run.completed_at is not None
        return Sample(
            end_to_end_s=run.elapsed_s,
            overhead_s=run.elapsed_s - run.athena_total_s,
            calls=calls,
            polls_before_completion=polls,
            completion_to_wakeup_s=None if signalled is None else signalled - run.completed_at,
            completion_to_push_s=parse_time(delivery["received_at"]) - run.completed_at,
        )


def _column(values: list[float | None]) -> str:
    present = [value for value in values if value is not None]
    return summary_ms(present) if present else "n/a"


def athena_config(stack: LocalStack, **changes: Any) -> dict[str, Any]:
    """Change the local Athena's settings; returns what they were."""
    url = f"{stack.athena_url}/_local/config"
    before = requests.get(url, timeout=10).json()
    requests.post(url, json=changes, timeout=10).raise_for_status()
    return {name: before[name] for name in changes}


def measure_temporal(
    stack: LocalStack, log_dir: Path, queries: int, in_flight: int, throughput_queries: int
) -> Rows:
    """Every Temporal row, with its own processes started for them and stopped after."""
    print("Measuring the same promise on Temporal...", flush=True)
    with TemporalPeer(stack, log_dir) as peer:
        client = ClientLoop(peer.target)
        rows = Rows(stack, peer, client)
        events = {"events_url": peer.events_url, "events_states": "SUCCEEDED,FAILED,CANCELLED"}
        restore = athena_config(stack, **events, **ATHENA_TIMING, drop_events_rate=0.0)
        try:
            rows.latency_row("temporal, signal + poll", queries, 1)
            rows.latency_row("temporal, signal + poll", queries, in_flight)
            athena_config(stack, **QUICK)
            rows.throughput_row("temporal, signal + poll, pull", throughput_queries, push=False)
            rows.throughput_row(
                "temporal, signal + poll, pull + push", throughput_queries, push=True
            )
        finally:
            athena_config(stack, **restore)
            client.close()
    return rows


def report(rows: Rows, queries: int, throughput_queries: int) -> None:
    cpu = ["CPU ms/q: temporal server", "worker", "events bridge", "client", "athena"]
    cpu += ["listener", "history events/q", "look-ups/q", "503s/q"]
    latency = ["", "end-to-end p50/p95/p99", "overhead p50/p95/p99", "done->signal"]
    latency += ["done->webhook", "calls/q", "polls/q", "q/s", *cpu]
    print_table(
        f"The same promise on Temporal: {queries} queries a row, Athena as above.",
        latency,
        rows.latency,
        "done->signal: Athena's CompletionDateTime to the workflow's history recording the "
        "signal. worker: the Temporal worker (workflow and activities); events bridge: the "
        "events-to-signals receiver; client: the Temporal client in the benchmark's process. "
        "look-ups/q: the bridge's visibility queries a query (0.01-0.5 s apart until the "
        "workflow is indexed); 503s/q: events it could not place in 2.6 s, which the local "
        "Athena sent again later.",
    )
    print_table(
        f"Temporal throughput: {throughput_queries} queries a row, Athena taking ~0 s.",
        ["", "p50 ms", "q/s", *cpu],
        rows.throughput,
        "q/s as above: to the last result pulled (and for push, the last webhook received).",
    )
