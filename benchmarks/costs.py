"""What a row of queries cost: CPU per process, Restate invocations and journal entries.

CPU comes from /proc (each component runs in a process group of its own, so a wrapper and
the binary it spawned count together); invocations and journal entries from Restate's own
introspection tables (`sys_invocation`, `sys_journal`) through the admin SQL endpoint.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from infra.local.stack import LocalStack
from infra.local.stack import admin_sql as stack_admin_sql

COMPONENTS = ("restate", "service", "athena", "listener")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def component_of(process_name: str) -> str:
    """The column a process counts in: cluster nodes and service workers add up, and the
    local Lambda endpoint (with its workers) is where the service runs."""
    base = process_name.split("-")[0]
    return "service" if base == "lambda" else base


def admin_sql(stack: LocalStack, sql: str) -> list[dict[str, Any]]:
    return stack_admin_sql(stack.admin_url, sql)


def group_stats(pgid: int) -> list[tuple[str, list[str]]]:
    """Each live process of the group: its pid and the fields of /proc/PID/stat after the
    command name (which may hold spaces), so the process state is at index 0."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append((entry, fields))
    return members


def group_cpu_s(pgid: int) -> float:
    """User plus system CPU of every live process in the group, and of children it reaped."""
    ticks = sum(
        sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        for _, fields in group_stats(pgid)
    )
    return ticks / CLOCK_TICKS


def group_rss_mb(stack: LocalStack, name: str) -> float:
    """Resident memory of every live process in a component's group, in MiB."""
    process = stack.processes.get(name)
    if process is None or process.pid is None:
        return 0.0
    return groups_rss_mb([process.pid])


def groups_rss_mb(leaders: list[int]) -> float:
    """Resident memory of every live process in these process groups, in MiB."""
    total_kb = 0
    for leader in leaders:
        for pid, _ in group_stats(leader):
            try:
                with open(f"/proc/{pid}/status") as status:
                    total_kb += next(
                        int(line.split()[1]) for line in status if line.startswith("VmRSS:")
                    )
            except (OSError, StopIteration):
                continue
    return total_kb / 1024


def cpu_by_component(stack: LocalStack) -> dict[str, float]:
    cpu: dict[str, float] = {}
    for name, process in stack.processes.items():
        component = component_of(name)
        if component in COMPONENTS and process.pid is not None:
            cpu[component] = cpu.get(component, 0.0) + group_cpu_s(process.pid)
    return cpu


def restate_counts(stack: LocalStack) -> tuple[int, int]:
    """Invocations and journal entries Restate holds (completed ones within their retention)."""
    invocations = admin_sql(stack, "SELECT count(*) AS n FROM sys_invocation")[0]["n"]
    entries = admin_sql(stack, "SELECT count(*) AS n FROM sys_journal")[0]["n"]
    return int(invocations), int(entries)


@dataclass
class Costs:
    cpu_s: dict[str, float] = field(default_factory=dict)
    invocations: int = 0
    journal_entries: int = 0

    # The counts are restate-server's work too (a scan of every retained invocation and
    # journal entry, growing row by row): taken before the row's CPU is read at its start
    # and after it is read at its end, so that no row pays for them.
    @classmethod
    def before_row(cls, stack: LocalStack) -> "Costs":
        invocations, entries = restate_counts(stack)
        return cls(cpu_by_component(stack), invocations, entries)

    @classmethod
    def after_row(cls, stack: LocalStack) -> "Costs":
        cpu = cpu_by_component(stack)
        return cls(cpu, *restate_counts(stack))

    def per_query_since(self, before: "Costs", queries: int) -> list[str]:
        """CPU ms per component, invocations and journal entries, each per query."""
        cells = [
            f"{(self.cpu_s.get(name, 0.0) - before.cpu_s.get(name, 0.0)) * 1000 / queries:.1f}"
            for name in COMPONENTS
        ]
        cells.append(f"{(self.invocations - before.invocations) / queries:.1f}")
        cells.append(f"{(self.journal_entries - before.journal_entries) / queries:.1f}")
        return cells
