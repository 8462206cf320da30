"""Who resolves a query's awakeable: Athena's state-change events, the polling watcher, or both.

Events meet waiters in a virtual object keyed by queryExecutionId. Restate runs one handler
at a time per key, so an event that arrives before its waiter registered, a duplicate event,
and the waiter itself can never race: whichever comes second completes the pair.
"""

from datetime import timedelta

import restate
from pydantic import BaseModel

from service.settings import CompletionMode
from service.watcher import WatchRequest, await_completion

completion = restate.VirtualObject("completion")

# Long enough for any waiter to register after an early event, short enough to keep state small.
UNCLAIMED_RETENTION = timedelta(hours=1)

log = restate.getLogger(__name__)


class CompletionPlan(BaseModel):
    """How this invocation learns of completion; snapshotted in the journal, so replays agree."""

    mode: CompletionMode
    poll_first_s: float
    poll_max_s: float
    safety_net_interval_s: float
    checks_per_invocation: int = 100


@completion.handler("awaitEvent", ingress_private=True)
async def await_event(ctx: restate.ObjectContext, awakeable_id: str) -> None:
    final_state = await ctx.get("final_state", type_hint=str)
    if final_state is not None:
        # The event came first: it waited here for us.
        ctx.resolve_awakeable(awakeable_id, final_state)
        return
    ctx.set("awakeable_id", awakeable_id)


@completion.handler("onFinalState", ingress_private=True)
async def on_final_state(ctx: restate.ObjectContext, state: str) -> None:
    if await ctx.get("final_state", type_hint=str) is not None:
        log.info("Duplicate %s event for query %s ignored", state, ctx.key())
        return
    ctx.set("final_state", state)
    awakeable_id = await ctx.get("awakeable_id", type_hint=str)
    if awakeable_id is not None:
        ctx.resolve_awakeable(awakeable_id, state)
        return
    # Early, or not ours: keep it for a waiter that may still come, then forget it.
    log.info("Event %s for query %s arrived before any waiter; keeping it", state, ctx.key())
    ctx.object_send(forget, ctx.key(), None, send_delay=UNCLAIMED_RETENTION)


@completion.handler("forget", ingress_private=True)
async def forget(ctx: restate.ObjectContext) -> None:
    unclaimed = await ctx.get("awakeable_id", type_hint=str) is None
    if unclaimed and await ctx.get("final_state", type_hint=str) is not None:
        log.info("No waiter claimed the event for query %s: it was not ours", ctx.key())
    ctx.clear_all()


def watch_for_completion(
    ctx: restate.Context, plan: CompletionPlan, query_execution_id: str, awakeable_id: str
) -> restate.SendHandle | None:
    """Arrange for the awakeable to be resolved; returns the poll watcher, if one was started."""
    if plan.mode in ("events", "both"):
        ctx.object_send(await_event, query_execution_id, awakeable_id)
    if plan.mode == "events":
        return None
    # `poll` polls briskly; `both` polls rarely, only to catch an event that never came.
    first, cap = (
        (plan.poll_first_s, plan.poll_max_s)
        if plan.mode == "poll"
        else (plan.safety_net_interval_s, plan.safety_net_interval_s)
    )
    watch = WatchRequest(
        query_execution_id=query_execution_id,
        awakeable_id=awakeable_id,
        first_delay_s=first,
        max_delay_s=cap,
        checks_per_invocation=plan.checks_per_invocation,
    )
    return ctx.service_send(await_completion, watch)


async def stop_watching(
    ctx: restate.Context,
    plan: CompletionPlan,
    query_execution_id: str,
    watcher: restate.SendHandle | None,
) -> None:
    """Once the query handler moves on, nobody needs the watcher or the event mailbox."""
    if watcher is not None:
        await watcher.cancel_invocation()
    if plan.mode != "poll":
        ctx.object_send(forget, query_execution_id, None, send_delay=UNCLAIMED_RETENTION)
