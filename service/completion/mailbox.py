"""The mailbox where news of a query's end meets the awakeable waiting for it.

One virtual object per queryExecutionId. Restate runs one handler at a time per key, so an
event that arrives before its waiter registered, a duplicate, and the waiter itself can never
race: whichever comes second completes the pair. News comes from Athena's state-change events
(a hint: anyone can post one) and from the sweeper's status checks (the truth). Once the pair
is complete the mailbox clears itself; an event nobody claims is kept an hour, then forgotten.
"""

from datetime import timedelta
from typing import Literal

import restate
from restate import TerminalError
from restate.serde import BytesSerde

from service.athena.client import FINAL_STATES
from service.completion.envelope import parse_event

completion = restate.VirtualObject("completion")

# Long enough for any waiter to register after an early event, short enough to keep state small.
UNCLAIMED_RETENTION = timedelta(hours=1)

# What resolves the awakeable: the promise forgets the mailbox itself unless it cleared itself.
Source = Literal["event", "athena"]

log = restate.getLogger(__name__)


@completion.handler("awaitEvent", ingress_private=True)
async def await_event(ctx: restate.ObjectContext, awakeable_id: str) -> None:
    final_state = await ctx.get("final_state", type_hint=str)
    if final_state is not None:
        # The event came first: it waited here for us.
        ctx.resolve_awakeable(awakeable_id, final_state)
        ctx.clear_all()
        return
    ctx.set("awakeable_id", awakeable_id)


@completion.handler("rearm", ingress_private=True)
async def rearm(ctx: restate.ObjectContext, awakeable_id: str) -> None:
    """After an event that was not the truth: wait again, for the sweeper's word only."""
    ctx.clear("final_state")
    ctx.set("trust_events", False)
    ctx.set("awakeable_id", awakeable_id)


@completion.handler("onEvent", accept="*/*", input_serde=BytesSerde())
async def on_event(ctx: restate.ObjectContext, body: bytes) -> None:
    """An EventBridge event sent straight here (the rule puts the id in the path): one hop."""
    event = parse_event(body)
    if event.is_athena_state_change and event.query_execution_id != ctx.key():
        raise TerminalError("Invalid Athena state-change event: not for this query's path", 400)
    if event.completes_or_informs:
        await take_news(ctx, event.detail.current_state, "event")


@completion.handler("onStateChange", ingress_private=True)
async def on_state_change(ctx: restate.ObjectContext, state: str) -> None:
    """An event's state, forwarded by `athenaEvents`."""
    await take_news(ctx, state, "event")


@completion.handler("onAthenaState", ingress_private=True)
async def on_athena_state(ctx: restate.ObjectContext, state: str) -> None:
    """A state Athena itself reported to the sweeper."""
    await take_news(ctx, state, "athena")


async def take_news(ctx: restate.ObjectContext, state: str, source: Source) -> None:
    if await ctx.get("final_state", type_hint=str) is not None:
        log.info("Late or duplicate %s for query %s ignored", state, ctx.key())
        return
    awakeable_id = await ctx.get("awakeable_id", type_hint=str)
    trusted = source == "athena" or await ctx.get("trust_events", type_hint=bool) is not False
    if awakeable_id is None and source == "athena":
        return  # the promise has moved on: nothing to complete, nothing to keep
    if state in FINAL_STATES and not trusted:
        log.info("Event %s for query %s not trusted after a false one; ignored", state, ctx.key())
        return
    if state not in FINAL_STATES:
        ctx.set("athena_state", state)
        if awakeable_id is None:
            # An early event: nobody else would clear it.
            ctx.object_send(forget, ctx.key(), None, send_delay=UNCLAIMED_RETENTION)
        return
    if awakeable_id is not None:
        # The news is the state: the promise reads the first page at once on SUCCEEDED.
        ctx.resolve_awakeable(awakeable_id, state)
        ctx.clear_all()
        return
    # Early, or not ours: keep it for a waiter that may still come, then forget it.
    log.info("Event %s for query %s arrived before any waiter; keeping it", state, ctx.key())
    ctx.set("final_state", state)
    ctx.set("athena_state", state)
    ctx.object_send(forget, ctx.key(), None, send_delay=UNCLAIMED_RETENTION)


@completion.handler("athenaState", kind="shared")
async def athena_state(ctx: restate.ObjectSharedContext) -> str | None:
    """The last state events (or the sweeper) reported; no call to Athena."""
    return await ctx.get("athena_state", type_hint=str)


@completion.handler("forget", ingress_private=True)
async def forget(ctx: restate.ObjectContext) -> None:
    unclaimed = await ctx.get("awakeable_id", type_hint=str) is None
    if unclaimed and await ctx.get("final_state", type_hint=str) is not None:
        log.info("No waiter claimed the event for query %s: it was not ours", ctx.key())
    ctx.clear_all()
