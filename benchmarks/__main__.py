"""`python -m benchmarks [--queries N] [--in-flight K]`: the durable promise against a baseline.

On one local stack, in one run: a plain boto3 loop that polls every 100 ms, and the durable
promise in each completion mode, one query at a time and then K at a time. Prints figures;
asserts nothing.
"""

import argparse
import shutil
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import requests

from benchmarks.baseline import athena_client
from benchmarks.chart import write_chart
from benchmarks.costs import Costs
from benchmarks.measure import (
    Run,
    check_pushed,
    finish,
    one_baseline,
    one_direct,
    one_promise,
    one_refusal,
    run_all,
    scratch_workdir,
)
from benchmarks.stats import mean, print_table, summary_ms
from benchmarks.temporal_peer.bench import measure_temporal
from benchmarks.temporal_peer.bench import report as report_temporal
from infra.athena_events import local_events_states
from infra.local.config import NodePorts
from infra.local.lambda_endpoint import lambda_cost
from infra.local.processes import free_port
from infra.local.restate_settings import FSYNC_VARIABLE
from infra.local.stack import LocalStack, Ports, StackConfig


def measured(
    stack: LocalStack,
    measure: Callable[[], Run],
    queries: int,
    in_flight: int,
    *,
    wait_for_push: bool,
) -> tuple[list[Run], float, list[str]]:
    """The row's runs, its seconds (to the last pull, or push), and its costs per query."""
    # Let the previous row's stragglers (delayed clean-ups, late events) settle first.
    time.sleep(2)
    before = Costs.before_row(stack)
    pushed = webhook_of if wait_for_push else None
    runs, took = run_all(stack, measure, queries, in_flight, pushed)
    # Webhooks, late events and clean-ups belong to the row: give them a moment to land.
    time.sleep(2)
    costs = Costs.after_row(stack).per_query_since(before, queries)
    if pushed is not None:
        check_pushed(stack, runs, pushed)
    return runs, took, costs


def webhook_of(run: Run) -> str | None:
    return run.webhook_id


def run(
    stack: LocalStack,
    client: Any,
    name: str,
    measure: Callable[[], Run],
    queries: int,
    in_flight: int,
) -> list[str]:
    runs, took, costs = measured(stack, measure, queries, in_flight, wait_for_push=False)
    throughput = queries / took
    samples = [finish(stack, client, one) for one in runs]

    def column(values: list[float | None]) -> str:
        present = [value for value in values if value is not None]
        return summary_ms(present) if present else "n/a"

    return [
        f"{name} ({in_flight} in flight)",
        column([s.end_to_end_s for s in samples]),
        column([s.overhead_s for s in samples]),
        column([s.completion_to_wakeup_s for s in samples]),
        column([s.completion_to_push_s for s in samples]),
        f"{mean([float(s.calls) for s in samples]):.1f}",
        f"{mean([float(s.polls_before_completion) for s in samples]):.1f}",
        f"{throughput:.2f}",
        *costs,
    ]


def throughput(
    stack: LocalStack, name: str, measure: Callable[[], Run], queries: int, in_flight: int
) -> list[str]:
    """Queries a second with `in_flight` at once, to the pull (and push, if any) of the last."""
    runs, took, costs = measured(stack, measure, queries, in_flight, wait_for_push="push" in name)
    p50 = sorted(one.elapsed_s for one in runs)[len(runs) // 2]
    return [f"{name} ({in_flight} in flight)", f"{p50 * 1000:.0f}", f"{queries / took:.1f}", *costs]


def report_throughput(rows: list[list[str]], queries: int) -> None:
    headers = ["", "p50 ms", "q/s", "CPU ms/q: restate", "service", "athena", "listener"]
    headers += ["invocations/q", "journal entries/q"]
    print_table(
        f"Throughput: {queries} queries a row, Athena taking ~0 s (queued 0, running 0).",
        headers,
        rows,
        "q/s: queries a second until every result was pulled (and, for push rows, every "
        "webhook received by the listener). The last row is one Restate invocation that only "
        "refuses a bad request: the least any invocation costs here.",
    )


def pushed_variants(
    stack: LocalStack, promise: Callable[[], Run], direct: Callable[[], Run], count: int
) -> list[list[str]]:
    """The pushed row through the front and through the direct entry, each with every event
    and again with the local Athena sending final states only (as the rule does with
    -c athenaRunningEvents=false): what the front's and RUNNING's invocations cost. Measured
    A B C D D C B A, each figure the mean of its two rows, so that the machine's drift over
    the rows cancels out of the differences."""

    def send_running(running: bool) -> None:
        body = {"events_states": local_events_states(running)}
        requests.post(f"{stack.athena_url}/_local/config", json=body, timeout=10).raise_for_status()

    variants = [
        ("restate, both, pull + push", True, promise),
        ("restate, both, pull + push, no RUNNING", False, promise),
        ("restate, both, direct, pull + push", True, direct),
        ("restate, both, direct, pull + push, no RUNNING", False, direct),
    ]
    rows: dict[str, list[list[str]]] = {label: [] for label, _, _ in variants}
    try:
        for label, running, measure in [*variants, *reversed(variants)]:
            send_running(running)
            rows[label].append(throughput(stack, label, measure, count, 100))
    finally:
        send_running(True)
    return [mean_row(rows[label]) for label, _, _ in variants]


def around(
    stack: LocalStack,
    outer: list[tuple[str, Callable[[], Run]]],
    inner: Callable[[], list[list[str]]],
    count: int,
) -> list[list[str]]:
    """The outer rows (the bare loop, the pull) measured before the inner ones and again,
    reversed, after them, each figure the mean of its two: the ratio of a pushed row to the
    loop then compares the same stretch of a drifting machine, not its first moments."""
    before = [throughput(stack, label, measure, count, 100) for label, measure in outer]
    middle = inner()
    after = [throughput(stack, label, measure, count, 100) for label, measure in reversed(outer)]
    return [*(mean_row(pair) for pair in zip(before, reversed(after), strict=True)), *middle]


def mean_row(rows: Sequence[list[str]]) -> list[str]:
    """Rows of one measurement as one: the label, then each figure's mean (p50 in whole ms)."""
    means = [mean([float(row[column]) for row in rows]) for column in range(1, len(rows[0]))]
    return [rows[0][0], f"{means[0]:.0f}", *(f"{value:.1f}" for value in means[1:])]


def with_fsynced_log(stack: LocalStack, measure: Callable[[], list[str]]) -> list[str]:
    """A row again with restate-server fsyncing its log at each append, as a production node
    does (the local stack does not: infra/local/restate_settings.py), restarted on its state,
    then back as it was."""
    env = stack.processes["restate"].env
    before = env.get(FSYNC_VARIABLE)
    env[FSYNC_VARIABLE] = "false"
    stack.restart("restate", kill=False)
    try:
        return measure()
    finally:
        if before is None:
            del env[FSYNC_VARIABLE]
        else:
            env[FSYNC_VARIABLE] = before
        stack.restart("restate", kill=False)


def use_mode(stack: LocalStack, mode: str) -> None:
    """Restart every service process (one, or each worker behind the balancer) in `mode`.
    In `poll` mode Athena's events are dropped, as where no EventBridge rule exists."""
    for name, process in stack.processes.items():
        if name.startswith("service") and "COMPLETION_MODE" in process.env:
            process.env["COMPLETION_MODE"] = mode
            stack.restart(name, kill=False)
    events = {"drop_events_rate": 1.0 if mode == "poll" else 0.0}
    requests.post(f"{stack.athena_url}/_local/config", json=events, timeout=10).raise_for_status()


def report(rows: list[list[str]], queries: int) -> None:
    headers = [
        "",
        "end-to-end p50/p95/p99",
        "overhead p50/p95/p99",
        "done->awakeable",
        "done->webhook",
        "calls/q",
        "polls/q",
        "q/s",
        "CPU ms/q: restate",
        "service",
        "athena",
        "listener",
        "invocations/q",
        "journal entries/q",
    ]
    print_table(
        f"{queries} queries a row; local Athena ~0.3 s queued + 1.5 s running; times in ms.",
        headers,
        rows,
        "overhead: end-to-end minus Athena's TotalExecutionTime. done->awakeable: Athena's "
        "CompletionDateTime to Restate journaling the awakeable's resolution. calls/q: Athena "
        "API calls per query; polls/q: status calls before the query finished. CPU ms/q: user and "
        "system CPU of each process group per query, over the row (the benchmark's own look-ups "
        "come after). invocations/q and journal entries/q: Restate's sys_invocation and "
        "sys_journal rows per query. log fsynced: restate-server fsyncs its log at each append, "
        "as a production node does (the local stack does not).",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20, help="queries per row (20)")
    parser.add_argument("--in-flight", type=int, default=8, help="concurrency of the last rows (8)")
    parser.add_argument(
        "--throughput-queries", type=int, default=300, help="queries per throughput row (300)"
    )
    parser.add_argument("--service-workers", type=int, default=1, help="service processes (1)")
    parser.add_argument("--nodes", type=int, default=1, help="Restate nodes; 3: a cluster (1)")
    args = parser.parse_args()
    workdir = scratch_workdir("bench-")
    config = StackConfig(
        base_dir=workdir / "restate",
        data_dir=workdir / "data",
        ports=Ports.free(),
        service_workers=args.service_workers,
        nodes=args.nodes,
        # A cluster's nodes each on free ports of their own (not the configured ones plus i).
        cluster_ports=[NodePorts(free_port(), free_port(), free_port()) for _ in range(args.nodes)]
        if args.nodes > 1
        else [],
    )
    print("Starting the local stack on free ports...", flush=True)
    rows = []
    try:
        with LocalStack(config) as stack:
            client = athena_client(stack.athena_url)
            baseline = partial(one_baseline, stack, client)
            promise = partial(one_promise, stack)
            direct = partial(one_direct, stack)
            measure = partial(run, stack, client)
            rows.append(measure("boto3 loop, 100 ms poll", baseline, args.queries, 1))
            for mode in ("events", "both", "poll"):
                print(f"Measuring COMPLETION_MODE={mode}...", flush=True)
                use_mode(stack, mode)
                rows.append(measure(f"restate, {mode}", promise, args.queries, 1))
            use_mode(stack, "both")  # events flow again, for the loop's row too
            # Without the front's invocation: POST /queries/{key}/run.
            rows.append(measure("restate, both, direct", direct, args.queries, 1))
            if not stack.is_cluster:
                print("Measuring both with the log fsynced, as in production...", flush=True)
                label = "restate, both, log fsynced"
                fsynced = partial(measure, label, promise, args.queries, 1)
                rows.append(with_fsynced_log(stack, fsynced))
            print(f"Measuring {args.in_flight} in flight...", flush=True)
            rows.append(measure("boto3 loop, 100 ms poll", baseline, args.queries, args.in_flight))
            rows.append(measure("restate, both", promise, args.queries, args.in_flight))
            print("Measuring throughput at 100 in flight...", flush=True)
            configure = f"{stack.athena_url}/_local/config"
            quick = {"queue_delay_s": 0, "run_time_s": 0}
            requests.post(configure, json=quick, timeout=10).raise_for_status()
            count = args.throughput_queries
            fast_loop = partial(one_baseline, stack, client, 0.02)
            pull = partial(one_promise, stack, False)
            refusal = partial(one_refusal, stack)
            rates = around(
                stack,
                [("boto3 loop, 20 ms poll", fast_loop), ("restate, both, pull", pull)],
                lambda: pushed_variants(stack, promise, direct, count),
                count,
            )
            # The floor under every row above: one invocation that does nothing.
            rates.append(throughput(stack, "one invocation, refused (400)", refusal, count, 100))
            # The same promise on Temporal: same stack, same local Athena, its own processes.
            temporal = measure_temporal(stack, stack.log_dir, args.queries, args.in_flight, count)
        lambda_row = measure_lambda(workdir, rows, args.queries)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(rows, args.queries)
    print(lambda_row)
    report_throughput(rates, args.throughput_queries)
    report_temporal(temporal, args.queries, args.throughput_queries)
    print(write_chart(chart_series([*rows, *temporal.latency], [*rates, *temporal.throughput])))


def chart_series(
    rows: list[list[str]], rates: list[list[str]]
) -> dict[str, list[tuple[int, float]]]:
    """End-to-end p50 by load, for the loop and the promise with push, from the tables."""
    lines = {"boto3 loop": "boto3 loop", "durable promise, both, push": "restate, both"}
    lines["Temporal, signal + poll, push"] = "temporal, signal + poll"
    series: dict[str, list[tuple[int, float]]] = {name: [] for name in lines}
    for row in [*rows, *rates]:
        label, p50 = row[0], float(row[1].split()[0])
        load = int(label.rsplit("(", 1)[1].split()[0])
        for name, prefix in lines.items():
            pull_only = ", pull (" in label
            variant = any(name in label for name in ("lambda", "no RUNNING", "fsynced", "direct"))
            if label.startswith(prefix) and not pull_only and not variant:
                series[name].append((load, p50))
    return series


def measure_lambda(workdir: Path, rows: list[list[str]], queries: int) -> str:
    """The same promise with the service on the local Lambda endpoint (its own stack, after
    the first one stopped, so the two never share the 2 cores); returns Lambda's cost line."""
    config = StackConfig(
        base_dir=workdir / "restate-lambda",
        data_dir=workdir / "data",
        ports=Ports.free(),
        use_lambda=True,
    )
    print("Measuring the service on the local Lambda endpoint...", flush=True)
    with LocalStack(config) as stack:
        client = athena_client(stack.athena_url)
        promise = partial(one_promise, stack)
        run(stack, client, "warm-up", promise, 3, 1)  # every worker warm first
        stats_url = f"{stack.lambda_url}/_local/stats"
        before = requests.get(stats_url, timeout=10).json()
        rows.append(run(stack, client, "restate on lambda, both", promise, queries, 1))
        after = requests.get(stats_url, timeout=10).json()
    return lambda_cost(before, after, queries).row()


if __name__ == "__main__":
    main()
