"""Memory per parked promise, measured once nothing is held open for it.

A parked promise's invocations (`query/query` waiting on `promise/run`, which waits on its
awakeable) stay open in the service until restate-server's inactivity timeout asks them to
suspend; only then does the service hold nothing for them. So the figure is taken after
every one of them is `suspended` in Restate's own `sys_invocation`, and the service's own
report (service/memory.py) tells what is still live in Python from what the allocators keep.
"""

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from benchmarks.costs import admin_sql, group_cpu_s, groups_rss_mb
from benchmarks.measure import wait_for
from infra.local.restate_settings import INACTIVITY_TIMEOUT_VARIABLE, SINGLE_NODE
from infra.local.stack import LocalStack
from service.memory import REPORT_ENV

# restate-server's own default (1.7.12), when neither the stack nor the caller sets one.
RESTATE_DEFAULT_INACTIVITY_TIMEOUT = "1m"


def inactivity_timeout() -> str:
    """The inactivity timeout the stack's restate-server runs with (the caller's wins)."""
    stack_default = SINGLE_NODE.get("worker.invoker.inactivity-timeout")
    return os.environ.get(
        INACTIVITY_TIMEOUT_VARIABLE, str(stack_default or RESTATE_DEFAULT_INACTIVITY_TIMEOUT)
    )


def invocation_states(stack: LocalStack, services: tuple[str, ...]) -> Counter[str]:
    """How many of these services' invocations Restate has in each status."""
    names = ", ".join(f"'{name}'" for name in services)
    rows = admin_sql(
        stack,
        "SELECT status, count(*) AS n FROM sys_invocation "
        f"WHERE target_service_name IN ({names}) GROUP BY status",
    )
    return Counter({str(row["status"]): int(row["n"]) for row in rows})


def wait_until_suspended(
    stack: LocalStack, services: tuple[str, ...], count: int, timeout_s: float
) -> float:
    """Seconds until `count` invocations of each of these services are suspended."""

    def suspended() -> int:
        return invocation_states(stack, services)["suspended"]

    return wait_for("suspended", suspended, count * len(services), timeout_s)


def report_env(report: Path) -> dict[str, str]:
    """The service's environment for its memory report (SIGUSR1) into this file."""
    return {REPORT_ENV: str(report)}


def service_pids(stack: LocalStack) -> list[int]:
    """The service's processes (each worker, never the balancer in front of several)."""
    names = [name for name in stack.processes if name.startswith("service-")] or ["service"]
    pids = [stack.processes[name].pid for name in names]
    return [pid for pid in pids if pid is not None]


def service_rss_mb(stack: LocalStack) -> float:
    """Resident memory of the service's processes (every worker), in MiB."""
    return groups_rss_mb(service_pids(stack))


def service_cpu_s(stack: LocalStack) -> float:
    return sum(group_cpu_s(pid) for pid in service_pids(stack))


def service_report(stack: LocalStack, path: Path, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Ask each service process for its memory report (SIGUSR1, which it handles only when
    SERVICE_MEMORY_REPORT is set: the stack must have been started with `report_path`)."""
    pids = service_pids(stack)
    before = len(path.read_text().splitlines()) if path.exists() else 0
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) - before >= len(pids):
            return [json.loads(line) for line in lines[before:]]
        time.sleep(0.5)
    raise TimeoutError(f"no memory report from the service in {timeout_s:g} s")


def totals(reports: list[dict[str, Any]]) -> Counter[str]:
    """What the service's processes hold together: KiB in use by pymalloc and glibc's malloc
    (`live_kb`), KiB they keep free without returning it (`kept_kb`), gc-tracked objects,
    asyncio tasks and threads."""
    total: Counter[str] = Counter()
    for one in reports:
        pymalloc, malloc = one["pymalloc"], one["malloc"] or {}
        total["live_kb"] += pymalloc.get("used_kb", 0) + malloc.get("in_use_kb", 0)
        total["kept_kb"] += (
            pymalloc.get("free_in_pools_kb", 0)
            + pymalloc.get("unused_pools_kb", 0)
            + malloc.get("free_kb", 0)
        )
        total["objects"] += int(one["gc_tracked_objects"])
        total["tasks"] += int(one["asyncio_tasks"])
        total["threads"] += int(one.get("threads", 0))
    return total


# restate-server's own gauges (its Prometheus endpoint), what its memory is made of.
RESTATE_GAUGES = {
    "memtables_mb": "restate_rocksdb_memory_approx_memtable_bytes",
    "invoker_mb": 'restate_memory_pool_usage_bytes{name="invoker"}',
    "allocated_mb": "restate_jemalloc_allocated_bytes",
    "resident_mb": "restate_jemalloc_resident_bytes",
}


def restate_memory(stack: LocalStack) -> dict[str, float]:
    """restate-server's memory by pool, in MiB: RocksDB's memtables (every database: the
    partition store and the log server), the invoker's pool for open invocations, and what
    jemalloc has allocated and holds resident."""
    found = dict.fromkeys(RESTATE_GAUGES, 0.0)
    for url in stack.restate_metrics_urls:
        for line in requests.get(url, timeout=30).text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            for key, gauge in RESTATE_GAUGES.items():
                gauge_name, _, wanted = gauge.partition("{")
                if name == gauge_name and wanted.rstrip("}") in labels:
                    found[key] += float(value) / 2**20
    return found
