"""What a row of queries cost: CPU per process, Restate invocations and journal entries.

CPU comes from /proc (each component runs in a process group of its own, so a wrapper and
the binary it spawned count together); invocations and journal entries from Restate's own
introspection tables (`sys_invocation`, `sys_journal`) through the admin SQL endpoint.
"""

import os
from dataclasses import dataclass, field
from typing import Any

import requests

from infra.local.stack import LocalStack

COMPONENTS = ("restate", "service", "athena", "listener")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def admin_sql(stack: LocalStack, sql: str) -> list[dict[str, Any]]:
    response = requests.post(
        f"{stack.admin_url}/query",
        json={"query": sql},
        headers={"accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["rows"])


def group_cpu_s(pgid: int) -> float:
    """User plus system CPU of every live process in the group, and of children it reaped."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # Fields after the command name, which may hold spaces: state is field 3.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


@dataclass
class Costs:
    cpu_s: dict[str, float] = field(default_factory=dict)
    invocations: int = 0
    journal_entries: int = 0

    @classmethod
    def now(cls, stack: LocalStack) -> "Costs":
        cpu = {
            name: group_cpu_s(process.pid)
            for name, process in stack.processes.items()
            if name in COMPONENTS and process.pid is not None
        }
        invocations = admin_sql(stack, "SELECT count(*) AS n FROM sys_invocation")[0]["n"]
        entries = admin_sql(stack, "SELECT count(*) AS n FROM sys_journal")[0]["n"]
        return cls(cpu, int(invocations), int(entries))

    def per_query_since(self, before: "Costs", queries: int) -> list[str]:
        """CPU ms per component, invocations and journal entries, each per query."""
        cells = [
            f"{(self.cpu_s.get(name, 0.0) - before.cpu_s.get(name, 0.0)) * 1000 / queries:.1f}"
            for name in COMPONENTS
        ]
        cells.append(f"{(self.invocations - before.invocations) / queries:.1f}")
        cells.append(f"{(self.journal_entries - before.journal_entries) / queries:.1f}")
        return cells
