"""The polling side of completion: a durable watcher that resolves the query's awakeable.

It runs as its own invocation, so the query handler can park on one awakeable whatever
resolves it. Each check is a short durable step; the waits between them are durable sleeps,
so a restart resumes the schedule instead of restarting it.
"""

from datetime import timedelta

import restate
from pydantic import BaseModel

from service.athena.client import ExecutionStatus
from service.athena.steps import athena, athena_retry, terminal_on_rejection
from service.backoff import backoff_delay
from service.completion.mailbox import on_state_change

watcher = restate.Service("watcher")


class WatchRequest(BaseModel):
    query_execution_id: str
    awakeable_id: str
    first_delay_s: float
    max_delay_s: float
    growth: float = 1.5
    checks_done: int = 0
    # A long watch goes on in a fresh invocation now and then: no journal grows without bound.
    checks_per_invocation: int = 100
    # Whether RUNNING was passed on to the mailbox already, where status reads it.
    reported_running: bool = False


def next_delay(request: WatchRequest, check: int) -> float:
    """Quick for short queries, rare for long ones."""
    return backoff_delay(request.first_delay_s, request.max_delay_s, check, growth=request.growth)


@watcher.handler("awaitCompletion", ingress_private=True)
async def await_completion(ctx: restate.Context, request: WatchRequest) -> str:
    describe = terminal_on_rejection(athena().describe)
    last_check = request.checks_done + request.checks_per_invocation
    for check in range(request.checks_done, last_check):
        # Sleeping first: no query finishes the instant it is submitted.
        await ctx.sleep(timedelta(seconds=next_delay(request, check)), name="backoff")
        # A short step: one status call, journaled so a replay does not repeat it.
        status: ExecutionStatus = await ctx.run_typed(
            "check status", describe, athena_retry(), request.query_execution_id
        )
        if status.is_final:
            ctx.resolve_awakeable(request.awakeable_id, status.state)
            return status.state
        if status.state == "RUNNING" and not request.reported_running:
            ctx.object_send(on_state_change, request.query_execution_id, "RUNNING")
            request = request.model_copy(update={"reported_running": True})
    # Continue as a new invocation. If the promise ends meanwhile (an event, a deadline), the
    # continuation is not cancelled with this one, but stops at its next check: the query is
    # final by then.
    ctx.service_send(await_completion, request.model_copy(update={"checks_done": last_check}))
    return "continued"
