"""Whether a process group still has live members, and waiting until it has none.

A component may start children of its own (`node_modules/.bin/restate-server` is a Node
wrapper that spawns the native server; hypercorn with workers forks them). Waiting for the
process we started is not enough: its children can still hold the ports for a moment, and
starting again then fails with "address in use".
"""

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

from infra.local.ports import port_is_free

PROC = Path("/proc")


def live_members(pgid: int) -> list[int]:
    """The processes of group `pgid` that still run; zombies count as gone.

    An orphaned child is reparented to PID 1, which does not reap it on every machine: a
    zombie answers `kill(pid, 0)` but holds no port and runs no code.
    """
    if not PROC.is_dir():  # not Linux: the signal probe is all there is
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to the whole group, if any of it is left; whether any was."""
    if not live_members(pgid):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
    return True


def wait_group_gone(pgid: int, timeout_s: float) -> bool:
    """True once no member of the group runs; False if some still do after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while live_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def wait_ports_free(ports: Iterable[int], timeout_s: float) -> list[int]:
    """Wait until every port can be bound again; the ports still taken after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        taken = [port for port in ports if not port_is_free(port)]
        if not taken or time.monotonic() >= deadline:
            return taken
        time.sleep(0.02)
