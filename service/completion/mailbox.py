"""The mailbox where Athena's final-state events meet the awakeables waiting for them.

Events meet waiters in a virtual object keyed by queryExecutionId. Restate runs one handler
at a time per key, so an event that arrives before its waiter registered, a duplicate event,
and the waiter itself can never race: whichever comes second completes the pair.
"""

from datetime import timedelta

import restate

from service.athena.client import FINAL_STATES

completion = restate.VirtualObject("completion")

# Long enough for any waiter to register after an early event, short enough to keep state small.
UNCLAIMED_RETENTION = timedelta(hours=1)

log = restate.getLogger(__name__)


@completion.handler("awaitEvent", ingress_private=True)
async def await_event(ctx: restate.ObjectContext, awakeable_id: str) -> None:
    final_state = await ctx.get("final_state", type_hint=str)
    if final_state is not None:
        # The event came first: it waited here for us.
        ctx.resolve_awakeable(awakeable_id, final_state)
        return
    ctx.set("awakeable_id", awakeable_id)


@completion.handler("onStateChange", ingress_private=True)
async def on_state_change(ctx: restate.ObjectContext, state: str) -> None:
    """Athena's latest state (what status shows); a final one completes the waiter."""
    final_state = await ctx.get("final_state", type_hint=str)
    if final_state is not None:
        log.info("Late or duplicate %s event for query %s ignored", state, ctx.key())
        return
    ctx.set("athena_state", state)
    awakeable_id = await ctx.get("awakeable_id", type_hint=str)
    if state not in FINAL_STATES:
        if awakeable_id is None:
            # No waiter registered (poll mode, or an early event): nobody else clears this.
            ctx.object_send(forget, ctx.key(), None, send_delay=UNCLAIMED_RETENTION)
        return
    ctx.set("final_state", state)
    if awakeable_id is not None:
        ctx.resolve_awakeable(awakeable_id, state)
        return
    # Early, or not ours: keep it for a waiter that may still come, then forget it.
    log.info("Event %s for query %s arrived before any waiter; keeping it", state, ctx.key())
    ctx.object_send(forget, ctx.key(), None, send_delay=UNCLAIMED_RETENTION)


@completion.handler("athenaState", kind="shared")
async def athena_state(ctx: restate.ObjectSharedContext) -> str | None:
    """The last state events (or the watcher) reported; no call to Athena."""
    return await ctx.get("athena_state", type_hint=str)


@completion.handler("forget", ingress_private=True)
async def forget(ctx: restate.ObjectContext) -> None:
    unclaimed = await ctx.get("awakeable_id", type_hint=str) is None
    if unclaimed and await ctx.get("final_state", type_hint=str) is not None:
        log.info("No waiter claimed the event for query %s: it was not ours", ctx.key())
    ctx.clear_all()
