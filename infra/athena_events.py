"""Which of Athena's query state changes reach the promise: the EventBridge rule's pattern
and the local Athena's `--events-states`, from one list.

The final states resolve the promise. RUNNING only changes what `status` shows while the
query runs, and each event is one Restate invocation: a deployment whose callers never ask
for status may leave it out (a fifth of the invocations a query). QUEUED is never sent: the
promise knows it started the query.
"""

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
RUNNING = "RUNNING"


def event_states(running_events: bool = True) -> list[str]:
    """The states sent, in the order Athena walks them."""
    return [RUNNING, *FINAL_STATES] if running_events else list(FINAL_STATES)


def local_events_states(running_events: bool = True) -> str:
    """The same, as the local Athena takes them (`--events-states`, `events_states`)."""
    return ",".join(event_states(running_events))
