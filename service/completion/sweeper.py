"""The polling side of completion: one sweeper per shard checks many parked queries at once.

A promise that polls (poll mode, the safety net in `both` mode, or after an event that was
not the truth) registers its query here. Each sweep asks Athena about every query that is
due in calls of up to 50 ids (BatchGetQueryExecution), brings a final state to the promise,
and schedules the next sweep: at the earliest due check, but never so soon that the shards
together exceed ATHENA_STATUS_CALLS_PER_S. So 10,000 parked promises cost a few status calls
a second, not one each.

In poll mode the sweeper alone brings news, so the promise hands it the awakeable and it
resolves it itself, and keeps the latest state for `status`: no mailbox, no invocation per
state. Otherwise (beside events) the news goes to the query's mailbox, where events meet it.

Sweeps are durable: a delayed self-send carries the time it was scheduled for, and a sweep
whose time is no longer the shard's `sweep_at` was superseded and does nothing.
"""

import hashlib
from datetime import timedelta

import restate
from pydantic import BaseModel

from service.athena.client import BATCH_LIMIT, FINAL_STATES, AthenaState
from service.athena.steps import athena, athena_retry, terminal_on_rejection
from service.backoff import backoff_delay
from service.completion.mailbox import on_athena_state
from service.settings import settings

sweeper = restate.VirtualObject("sweeper")

log = restate.getLogger(__name__)

# A query's checks start at `first_s` after it registers and grow by this factor to `max_s`.
GROWTH = 1.5


class WatchRequest(BaseModel):
    query_execution_id: str
    first_delay_s: float
    max_delay_s: float
    # Sent by promises of older deployments in poll mode: tell the mailbox RUNNING, once.
    report_running: bool = False
    # When the first check is due, if not `first_delay_s` from now (the safety net has
    # already waited its interval when it registers).
    due_in_s: float | None = None
    # Poll mode: the awakeable to resolve with the final state. None: tell the mailbox.
    awakeable_id: str | None = None


class Watch(BaseModel):
    due_at: float
    first_s: float
    max_s: float
    checks: int = 0
    report_running: bool = False
    awakeable_id: str | None = None
    # What Athena said at the last check: `status` reads it in poll mode.
    athena_state: AthenaState | None = None


class CheckedStates(BaseModel):
    """Athena's state of each query it knows, by queryExecutionId."""

    states: dict[str, AthenaState]


async def check_states(query_execution_ids: list[str]) -> CheckedStates:
    statuses = await athena().describe_many(query_execution_ids)
    return CheckedStates(states={status.query_execution_id: status.state for status in statuses})


class SweepPlan(BaseModel):
    """The quota this shard keeps to, read once per sweep (journaled: replays agree)."""

    calls_per_s: float


def shard_of(query_execution_id: str, shards: int) -> str:
    digest = hashlib.sha256(query_execution_id.encode()).digest()
    return str(int.from_bytes(digest[:4], "big") % shards)


def shard_plan() -> SweepPlan:
    current = settings()
    return SweepPlan(calls_per_s=current.athena_status_calls_per_s / current.sweeper_shards)


def watch_query(ctx: restate.Context, request: WatchRequest, shards: int) -> None:
    """Register a query with its shard's sweeper (one one-way call). `shards` comes from the
    journaled plan: a replay after SWEEPER_SHARDS changed must call the same shard."""
    ctx.object_send(watch, shard_of(request.query_execution_id, shards), request)


# Each watched query is a state key of its own: registering one costs the same however many
# the shard holds (a single map would be rewritten whole at every registration).
WATCH_PREFIX = "watch:"


# A registration reads one small key: the shard's other state is not sent along with it.
@sweeper.handler("watch", ingress_private=True, state_preload=False)
async def watch(ctx: restate.ObjectContext, request: WatchRequest) -> None:
    now = await ctx.time()
    watched = Watch(
        due_at=now + (request.first_delay_s if request.due_in_s is None else request.due_in_s),
        first_s=request.first_delay_s,
        max_s=request.max_delay_s,
        report_running=request.report_running,
        awakeable_id=request.awakeable_id,
    )
    ctx.set(WATCH_PREFIX + request.query_execution_id, watched)
    scheduled = await ctx.get("sweep_at", type_hint=float)
    if scheduled is None or watched.due_at < scheduled:
        schedule(ctx, watched.due_at, now)


@sweeper.handler("sweep", ingress_private=True)
async def sweep(ctx: restate.ObjectContext, ticket: float) -> None:
    if await ctx.get("sweep_at", type_hint=float) != ticket:
        return  # superseded by an earlier sweep, which scheduled its own successor
    plan: SweepPlan = await ctx.run_typed("quota", shard_plan)
    now = await ctx.time()
    watches: dict[str, Watch] = {}
    for key in await ctx.state_keys():
        if key.startswith(WATCH_PREFIX):
            watched = await ctx.get(key, type_hint=Watch)
            if watched is not None:
                watches[key.removeprefix(WATCH_PREFIX)] = watched
    due = [query for query, watched in watches.items() if watched.due_at <= now]
    check = terminal_on_rejection(check_states)
    calls = 0
    for start in range(0, len(due), BATCH_LIMIT):
        batch = due[start : start + BATCH_LIMIT]
        # One step per call: a crash resumes with the next batch, not the first.
        checked: CheckedStates = await ctx.run_typed("check statuses", check, athena_retry(), batch)
        calls += 1
        for query in batch:
            watches[query] = settle(ctx, query, watches[query], checked.states.get(query), now)
            if watches[query].due_at < 0:
                ctx.clear(WATCH_PREFIX + query)
                del watches[query]
            else:
                ctx.set(WATCH_PREFIX + query, watches[query])
    ctx.clear("sweep_at")
    if watches:
        # Never sooner than the shard's share of the quota allows after this many calls.
        earliest = min(watched.due_at for watched in watches.values())
        schedule(ctx, max(earliest, now + calls / plan.calls_per_s), now)


def settle(
    ctx: restate.ObjectContext,
    query: str,
    watched: Watch,
    state: AthenaState | None,
    now: float,
) -> Watch:
    """What one check means for one query; a negative `due_at` drops it from the shard."""
    if state is None:
        log.info("Athena does not know query %s; no longer watching it", query)
        return watched.model_copy(update={"due_at": -1.0})
    if state in FINAL_STATES:
        if watched.awakeable_id is not None:
            ctx.resolve_awakeable(watched.awakeable_id, state)
        else:
            ctx.object_send(on_athena_state, query, state)
        return watched.model_copy(update={"due_at": -1.0})
    if state == "RUNNING" and watched.report_running and watched.awakeable_id is None:
        ctx.object_send(on_athena_state, query, "RUNNING")
        watched = watched.model_copy(update={"report_running": False})
    checks = watched.checks + 1
    wait = backoff_delay(watched.first_s, watched.max_s, checks, growth=GROWTH)
    update = {"checks": checks, "due_at": now + wait, "athena_state": state}
    return watched.model_copy(update=update)


@sweeper.handler("athenaState", kind="shared")
async def watched_state(ctx: restate.ObjectSharedContext, query_execution_id: str) -> str | None:
    """What Athena said of a watched query at its last check; no call to Athena."""
    watched = await ctx.get(WATCH_PREFIX + query_execution_id, type_hint=Watch)
    return watched.athena_state if watched else None


def schedule(ctx: restate.ObjectContext, at: float, now: float) -> None:
    ctx.set("sweep_at", at)
    ctx.object_send(sweep, ctx.key(), at, send_delay=timedelta(seconds=max(0.0, at - now)))
