"""What a parked promise keeps in the service once Restate has suspended it: nothing.

A suspended invocation is over for the service: its coroutine, the SDK's state machine and
its HTTP/2 stream must be freed at once, by reference counting. Anything left in a reference
cycle waits for the cyclic collector, and a burst of parked promises would hold the service's
memory until then (docs/benchmarks.md, "Memory per parked promise").
"""

from typing import Any

import requests

from benchmarks.memory import service_report
from infra.local.stack import admin_sql
from tests.kit.support import Kit, Submitted, submit
from tests.stack_support import wait_until

PARKED = 100
# Waiting on events that never come: no timer wakes it, so Restate suspends it (5 s idle).
PARKED_SPEC = "states=RUNNING:120,SUCCEEDED events=none"


def tracked_objects(kit: Kit) -> int:
    (report,) = service_report(kit.stack, kit.memory_report)
    return int(report["gc_tracked_objects"])


def statuses(kit: Kit, promises: list[Submitted]) -> list[str]:
    """Restate's status of each promise's front invocation and of its workflow's run."""
    fronts = ", ".join(f"'{p.invocation_id}'" for p in promises)
    rows: list[dict[str, Any]] = admin_sql(
        kit.stack.admin_url,
        "SELECT status FROM sys_invocation "
        f"WHERE id IN ({fronts}) "
        f"OR (target_handler_name = 'run' AND target_service_key IN ({fronts}))",
    )
    return [str(row["status"]) for row in rows]


def test_a_suspended_promise_leaves_nothing_in_the_service(kit: Kit) -> None:
    # First use (imports, pools, caches) is not what is measured.
    for _ in range(2):
        warm = submit(kit, "states=SUCCEEDED", flavor="fakeEvents", push=False)
        assert warm.outcome()["state"] == "SUCCEEDED"
    before = tracked_objects(kit)

    parked = [submit(kit, PARKED_SPEC, flavor="fakeEvents", push=False) for _ in range(PARKED)]
    try:
        wait_until(
            lambda: statuses(kit, parked) == ["suspended"] * 2 * PARKED,
            60,
            f"{PARKED} fronts and their runs suspended",
        )
        after = tracked_objects(kit)
    finally:
        for promise in parked:
            requests.post(f"{promise.promise_url}/cancel", json={}, timeout=10)

    # Before the front awaited its call through gather, each suspended front left about 90
    # objects (its context, state machine, stream, task, the exception's traceback) in a
    # cycle; with the collector's young threshold at 10,000 they stayed until it ran.
    per_promise = (after - before) / PARKED
    assert per_promise < 10, f"{per_promise:.0f} objects a suspended promise left behind"
    for promise in parked:
        assert promise.outcome()["state"] == "CANCELLED"
