"""`make bench-scale`: many promises parked at once, and a burst against Athena's start quota.

- parked: N promises whose queries the local Athena holds RUNNING (the `hold` hint) until all
  N are parked, in `both` mode (events dropped unless `--with-events`, so only the sweeper
  can end them) or in `poll` mode. Once every promise's invocations are suspended in Restate
  (after restate-server's inactivity timeout: until then the service holds them open), over
  a `--window` of parked time it reports Athena status calls a second (all of them, batched
  or not) and the memory of restate-server and the service per parked promise, with what
  the service still holds live in Python and what its allocators keep free; then it
  releases every query at once and reports how long the last one took to be delivered, and
  how many were lost or delivered twice.
- burst: M submissions at once against a local Athena that admits 20 StartQueryExecution a
  second (Athena's default quota) and refuses the rest as TooManyRequestsException.

Not part of `make test`: it takes minutes. Asserts nothing; prints figures.
"""

import argparse
import json
import os
import shutil
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.costs import group_rss_mb
from benchmarks.measure import scratch_workdir, wait_for
from benchmarks.memory import (
    inactivity_timeout,
    invocation_states,
    report_env,
    restate_memory,
    service_cpu_s,
    service_report,
    service_rss_mb,
    totals,
    wait_until_suspended,
)
from infra.local.stack import LocalStack, Ports, StackConfig
from service.app import ATHENA_NAMES
from service.models import DEMO_QUERY, webhook_id_for
from service.settings import Settings

# What a parked promise keeps in Restate: `query/query` waiting on `promise/run`, which waits
# on its awakeable. Both must be suspended before memory says what parking costs.
PARKED_SERVICES = (ATHENA_NAMES.front, ATHENA_NAMES.promise)
# Promises run end to end before the baseline is taken, so one-time costs (boto3's Athena
# model, modules imported on first use) are not charged to the parked ones.
WARM_UP = 20


def submit_all(stack: LocalStack, sqls: list[str]) -> list[str]:
    """Fire-and-forget sends (the push path); returns the invocation ids."""

    def one(sql: str) -> str:
        body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
        headers = {"idempotency-key": str(uuid.uuid4())}
        url = f"{stack.ingress_url}/query/query/send"
        for _ in range(20):
            try:
                response = requests.post(url, json=body, headers=headers, timeout=120)
                if response.status_code == 202:
                    return str(response.json()["invocationId"])
            except requests.RequestException:
                pass
            time.sleep(1)
        raise RuntimeError("the ingress refused a submission 20 times")

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(one, sqls))


def athena_calls(stack: LocalStack) -> dict[str, int]:
    calls = requests.get(f"{stack.athena_url}/_local/stats", timeout=30).json()["calls"]
    return {name: int(count) for name, count in calls.items()}


def status_calls(calls: dict[str, int]) -> int:
    return calls.get("GetQueryExecution", 0) + calls.get("BatchGetQueryExecution", 0)


def deliveries(stack: LocalStack) -> list[dict[str, object]]:
    return list(requests.get(f"{stack.listener_url}/deliveries", timeout=120).json())


def report_delivery(stack: LocalStack, invocations: list[str], waited_for: str) -> None:
    wanted = {webhook_id_for(invocation) for invocation in invocations}
    took = wait_for(
        "delivered",
        lambda: len(wanted & {str(d["webhook_id"]) for d in deliveries(stack)}),
        len(wanted),
        3600,
    )
    mine = [d for d in deliveries(stack) if d["webhook_id"] in wanted]
    stored = [str(d["webhook_id"]) for d in mine]
    posts = sum(int(str(d.get("attempts", 1))) for d in mine)
    print(f"  all {len(wanted)} delivered {took:.1f} s after {waited_for}")
    print(f"  lost: {len(wanted - set(stored))}; stored twice: {len(stored) - len(set(stored))}")
    print(f"  POSTs received: {posts} (the listener keeps one per webhook-id)")
    states = Counter(json.loads(str(d["body"]))["state"] for d in mine)
    print(f"  results by state: {dict(states)}")


def held(stack: LocalStack) -> int:
    return int(requests.get(f"{stack.athena_url}/_local/held", timeout=30).json()["held"])


def warm_up(stack: LocalStack) -> None:
    sqls = [
        f"{DEMO_QUERY} -- {uuid.uuid4()}\n-- local-athena: run_time_s=0.2" for _ in range(WARM_UP)
    ]
    wanted = {webhook_id_for(invocation) for invocation in submit_all(stack, sqls)}
    wait_for(
        "warm-up delivered",
        lambda: len(wanted & {str(d["webhook_id"]) for d in deliveries(stack)}),
        len(wanted),
        600,
    )


def memory_now(stack: LocalStack) -> dict[str, float]:
    return {"restate": group_rss_mb(stack, "restate"), "service": service_rss_mb(stack)}


def parked(
    stack: LocalStack,
    count: int,
    window_s: float,
    safety_net_s: float,
    drop_events: bool,
    report: Path,
) -> None:
    print(f"\nParked: {count} promises, their queries held RUNNING, then ended together")
    idle = memory_now(stack)
    warm_up(stack)
    rss_before, held_before = memory_now(stack), totals(service_report(stack, report))
    pools_before = restate_memory(stack)
    print(
        f"  warm-up ({WARM_UP} promises end to end, not counted below): service "
        f"{idle['service']:.0f} -> {rss_before['service']:.0f} MB, restate-server "
        f"{idle['restate']:.0f} -> {rss_before['restate']:.0f} MB"
    )
    hints = "hold=1 drop_events=1" if drop_events else "hold=1"
    sqls = [f"{DEMO_QUERY} -- {uuid.uuid4()}\n-- local-athena: {hints}" for _ in range(count)]
    began, cpu_before = time.monotonic(), service_cpu_s(stack)
    invocations = submit_all(stack, sqls)
    print(f"  accepted by the ingress in {time.monotonic() - began:.1f} s")
    # Parked: Athena runs the query (the start step is done) and the promise waits on it.
    wait_for("running on Athena", lambda: held(stack), count, 3600)
    parking_cpu_ms = (service_cpu_s(stack) - cpu_before) * 1000 / count
    print(
        f"  all {count} running on Athena {time.monotonic() - began:.1f} s after the first "
        f"(the service's CPU: {parking_cpu_ms:.1f} ms a promise; load {os.getloadavg()[0]:.1f})"
    )
    # The safety net hands a query to the sweeper after its interval: measure after that.
    time.sleep(safety_net_s + 5)
    # Until restate-server's inactivity timeout asks them to suspend, the service holds every
    # parked invocation open; measure once it holds none.
    took = wait_until_suspended(stack, PARKED_SERVICES, count, 3600)
    print(
        f"  all {count} promises suspended in Restate ({', '.join(PARKED_SERVICES)}) "
        f"{took:.0f} s later (restate-server's inactivity timeout: {inactivity_timeout()}); "
        "measuring from here, nothing held open"
    )
    calls_before, window_began = athena_calls(stack), time.monotonic()
    time.sleep(window_s)
    calls_after, window = athena_calls(stack), time.monotonic() - window_began
    rate = (status_calls(calls_after) - status_calls(calls_before)) / window
    print(f"  status calls while parked: {rate:.2f}/s over {window:.0f} s (all promises together)")
    states = invocation_states(stack, PARKED_SERVICES)
    print(f"  at the end of the window, their invocations: {dict(states)}")
    for name, mb in memory_now(stack).items():
        added, label = mb - rss_before[name], "restate-server" if name == "restate" else name
        per_promise = added * 1024 / count
        print(f"  {label} memory: +{added:.0f} MB, {per_promise:.1f} KB per parked promise")
    # What of the service's growth is still live, and what its allocators only keep.
    holds = totals(service_report(stack, report))
    grown = {key: holds[key] - held_before[key] for key in holds}
    print(
        f"  of the service's: {grown['live_kb'] / 1024:+.0f} MB in use by pymalloc and malloc, "
        f"{grown['kept_kb'] / 1024:+.0f} MB free inside them (pymalloc's arenas, malloc's "
        f"heaps: resident unless trimmed); {grown['objects']:+d} objects tracked by gc, "
        f"{holds['tasks']} asyncio tasks, {holds['threads']} threads"
    )
    pools = restate_memory(stack)
    print(
        "  of restate-server's: "
        + ", ".join(f"{key[:-3]} {pools[key] - pools_before[key]:+.0f} MB" for key in pools)
        + " (RocksDB's memtables, the invoker's pool for open invocations, jemalloc)"
    )
    released = requests.post(f"{stack.athena_url}/_local/release", timeout=30).json()["released"]
    print(f"  released {released} queries at once")
    report_delivery(stack, invocations, "the release")


def burst(stack: LocalStack, count: int) -> None:
    print(f"\nBurst: {count} submissions at once; Athena admits 20 starts a second")
    requests.post(
        f"{stack.athena_url}/_local/config", json={"start_rate_limit": 20}, timeout=10
    ).raise_for_status()
    sqls = [f"{DEMO_QUERY} -- {uuid.uuid4()}\n-- local-athena: run_time_s=1" for _ in range(count)]
    throttled_before = requests.get(f"{stack.athena_url}/_local/stats", timeout=30).json()
    began = time.monotonic()
    invocations = submit_all(stack, sqls)
    print(f"  submitted in {time.monotonic() - began:.1f} s")
    report_delivery(stack, invocations, "the last submission")
    throttled = requests.get(f"{stack.athena_url}/_local/stats", timeout=30).json()["throttled"]
    before = throttled_before["throttled"].get("StartQueryExecution", 0)
    print(f"  starts refused as throttled: {throttled.get('StartQueryExecution', 0) - before}")
    print(f"  everything done {time.monotonic() - began:.1f} s after the first submission")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parked", type=int, default=10_000, help="promises parked (10000)")
    parser.add_argument(
        "--window", type=float, default=120, help="seconds measured while all are parked (120)"
    )
    parser.add_argument(
        "--with-events", action="store_true", help="both mode: keep the parked queries' events"
    )
    parser.add_argument("--service-workers", type=int, default=1, help="service processes (1)")
    parser.add_argument("--burst", type=int, default=2_000, help="submissions at once (2000)")
    parser.add_argument("--mode", choices=["both", "poll"], default="both")
    args = parser.parse_args()
    workdir = scratch_workdir("bench-scale-")
    config = StackConfig(
        base_dir=workdir / "restate",
        data_dir=workdir / "data",
        ports=Ports.free(),
        completion_mode=args.mode,
        athena_args=["--queue-delay", "0"],
        service_workers=args.service_workers,
        service_env=report_env(workdir / "service-memory.jsonl"),
    )
    try:
        with LocalStack(config) as stack:
            if args.parked:
                safety_net_s = Settings().safety_net_interval_s if args.mode == "both" else 0.0
                report = workdir / "service-memory.jsonl"
                parked(stack, args.parked, args.window, safety_net_s, not args.with_events, report)
            if args.burst:
                burst(stack, args.burst)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
