"""The polling side of completion: one sweeper per shard checks many parked jobs at once.

A promise that polls (poll mode, the safety net in `both` mode, or after an event that was
not the truth) registers its job here. Each sweep asks the dependency about every job that is
due, in calls of up to the job's batch limit, brings a final state to the promise, and
schedules the next sweep: at the earliest due check, but never so soon that the shards
together exceed the calls-per-second budget. So 10,000 parked promises cost a few status
calls a second, not one each.

In poll mode the sweeper alone brings news, so the promise hands it the awakeable and it
resolves it itself, and keeps the latest state for `status`. Otherwise (beside events) the
news goes to the job's mailbox, where events meet it.

A check that fails is never silent: the watch keeps the error (status shows it), the log
says it, the job is checked again with backoff, and after the retry window (or at once, if
the dependency refused for good) the promise ends FAILED as a step that failed for good.

Sweeps are durable: a delayed self-send carries the time it was scheduled for, and a sweep
whose time is no longer the shard's `sweep_at` was superseded and does nothing.
"""

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import restate
from pydantic import BaseModel
from restate import RunOptions, TerminalError

from service.promisify.backoff import backoff_delay
from service.promisify.endings import is_cancellation
from service.promisify.job import FINAL_MEANINGS, Job
from service.promisify.mailbox import Mailbox
from service.promisify.settings import PromiseSettings, ServiceNames
from service.promisify.status_checks import CheckedStates, StatusChecks

log = restate.getLogger(__name__)

# A job's checks start at `first_s` after it registers and grow by this factor to `max_s`.
GROWTH = 1.5
# A failing check is retried within its step this briefly: the shard's other jobs wait
# behind it, so longer outages are waited out between sweeps, with backoff.
CHECK_ATTEMPTS = 3
# Each watched job is a state key of its own: registering one costs the same however many
# the shard holds (a single map would be rewritten whole at every registration).
WATCH_PREFIX = "watch:"


class WatchRequest(BaseModel):
    job_id: str
    first_delay_s: float
    max_delay_s: float
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
    awakeable_id: str | None = None
    # What the dependency said at the last check: `status` reads it.
    last_state: str | None = None
    # While checks fail: since when, and why (`status` shows it).
    failing_since: float | None = None
    last_error: str | None = None


class WatchView(BaseModel):
    """What `status` learns of a watched job, without calling the dependency."""

    last_state: str | None
    checks_failing: str | None


class SweepPlan(BaseModel):
    """The quota this shard keeps to, and the retry window, read once per sweep (journaled)."""

    calls_per_s: float
    retry_window_s: float


def checked_again(watched: Watch, now: float, **update: object) -> Watch:
    """The watch after one more check that did not end it: the next one later, up to max."""
    checks = watched.checks + 1
    wait = backoff_delay(watched.first_s, watched.max_s, checks, growth=GROWTH)
    return watched.model_copy(update={**update, "checks": checks, "due_at": now + wait})


def shard_of(job_id: str, shards: int) -> str:
    digest = hashlib.sha256(job_id.encode()).digest()
    return str(int.from_bytes(digest[:4], "big") % shards)


class Sweeper:
    def __init__(
        self,
        names: ServiceNames,
        job: Job[Any, Any, Any, Any],
        settings: Callable[[], PromiseSettings],
        mailbox: Mailbox,
    ) -> None:
        self.job = job
        self.checks = StatusChecks(job)
        self._settings = settings
        self._mailbox = mailbox
        self.object = obj = restate.VirtualObject(names.sweeper)
        # A registration reads one small key: the shard's other state is not sent along.
        self.watch = obj.handler("watch", ingress_private=True, state_preload=False)(self._watch)
        self.sweep = obj.handler("sweep", ingress_private=True)(self._sweep)
        self.view = obj.handler("watchView", kind="shared")(self._view)

    def register(self, ctx: restate.Context, request: WatchRequest, shards: int) -> None:
        """Register a job with its shard's sweeper (one one-way call). `shards` comes from the
        journaled plan: a replay after the shard count changed must call the same shard."""
        ctx.object_send(self.watch, shard_of(request.job_id, shards), request)

    def plan(self) -> SweepPlan:
        current = self._settings()
        return SweepPlan(
            calls_per_s=current.status_calls_per_s / current.sweeper_shards,
            retry_window_s=current.retry_window_s,
        )

    async def _watch(self, ctx: restate.ObjectContext, request: WatchRequest) -> None:
        now = await ctx.time()
        first_due = request.first_delay_s if request.due_in_s is None else request.due_in_s
        watched = Watch(
            due_at=now + first_due,
            first_s=request.first_delay_s,
            max_s=request.max_delay_s,
            awakeable_id=request.awakeable_id,
        )
        ctx.set(WATCH_PREFIX + request.job_id, watched)
        scheduled = await ctx.get("sweep_at", type_hint=float)
        # A new job is checked when due, but never sooner than the last sweep's calls allow:
        # else every arrival would bring a sweep of all due jobs, past the quota.
        at = max(watched.due_at, await ctx.get("quiet_until", type_hint=float) or 0.0)
        if scheduled is None or at < scheduled:
            self._schedule(ctx, at, now)

    async def _sweep(self, ctx: restate.ObjectContext, ticket: float) -> None:
        if await ctx.get("sweep_at", type_hint=float) != ticket:
            return  # superseded by an earlier sweep, which scheduled its own successor
        plan = await ctx.run_typed("quota", self.plan, RunOptions(type_hint=SweepPlan))
        now = await ctx.time()
        watches: dict[str, Watch] = {}
        for key in await ctx.state_keys():
            if key.startswith(WATCH_PREFIX):
                watched = await ctx.get(key, type_hint=Watch)
                if watched is not None:
                    watches[key.removeprefix(WATCH_PREFIX)] = watched
        due = [job_id for job_id, watched in watches.items() if watched.due_at <= now]
        calls = 0
        for batch in self.checks.batches(due):
            checked = await self._check(ctx, batch)
            calls += checked.calls
            for job_id in batch:
                settled = self._settle(ctx, job_id, watches[job_id], checked, now, plan)
                if settled is None:
                    ctx.clear(WATCH_PREFIX + job_id)
                    del watches[job_id]
                else:
                    watches[job_id] = settled
                    ctx.set(WATCH_PREFIX + job_id, settled)
        ctx.clear("sweep_at")
        # Never sooner than the shard's share of the quota allows after this many calls.
        # The shard's calls at its share of the budget, with one call to spare (a cell-rate
        # limit): over time no faster than the budget, yet a job arriving at a quiet shard is
        # checked when due, not a whole interval after the last sweep.
        spacing = 1 / plan.calls_per_s
        previous = await ctx.get("quiet_until", type_hint=float) or 0.0
        quiet_until = max(previous, now - spacing) + calls * spacing
        ctx.set("quiet_until", quiet_until)
        if watches:
            earliest = min(watched.due_at for watched in watches.values())
            self._schedule(ctx, max(earliest, quiet_until), now)

    async def _check(self, ctx: restate.ObjectContext, batch: list[str]) -> CheckedStates:
        """One step per batch: a crash resumes with the next batch, not the first. A failure
        is an answer too (journaled), so the sweep goes on with the other batches."""
        options = RunOptions(
            type_hint=CheckedStates,
            max_attempts=CHECK_ATTEMPTS,
            initial_retry_interval=timedelta(milliseconds=200),
        )
        try:
            return await ctx.run_typed("check statuses", self.checks.check, options, batch)
        except TerminalError as error:
            if is_cancellation(error):  # Restate's cancel of the sweep, not a failed check
                raise
            log.warning("Checking %d %s job(s) failed: %s", len(batch), self.job.name, error)
            return CheckedStates(states={}, error=error.message, calls=1)

    def _settle(
        self,
        ctx: restate.ObjectContext,
        job_id: str,
        watched: Watch,
        checked: CheckedStates,
        now: float,
        plan: SweepPlan,
    ) -> Watch | None:
        """What one check means for one job; None drops it from the shard."""
        if checked.error is not None:
            return self._failed_check(ctx, job_id, watched, checked, now, plan)
        state = checked.states.get(job_id)
        if state is None:
            log.info("%s does not know job %s; no longer watching it", self.job.name, job_id)
            return None
        if self.job.meaning(state) in FINAL_MEANINGS:
            if watched.awakeable_id is not None:
                ctx.resolve_awakeable(watched.awakeable_id, state)
            else:
                ctx.object_send(self._mailbox.on_checked, job_id, state)
            return None
        return checked_again(watched, now, last_state=state, failing_since=None, last_error=None)

    def _failed_check(
        self,
        ctx: restate.ObjectContext,
        job_id: str,
        watched: Watch,
        checked: CheckedStates,
        now: float,
        plan: SweepPlan,
    ) -> Watch | None:
        since = watched.failing_since if watched.failing_since is not None else now
        if checked.refused or now - since >= plan.retry_window_s:
            reason = (
                f"checking the {self.job.noun}'s state on {self.job.name} failed for good "
                f"({checked.error})"
            )
            log.warning("Job %s: %s; ending its promise", job_id, reason)
            if watched.awakeable_id is not None:
                ctx.reject_awakeable(watched.awakeable_id, reason)
            else:
                ctx.object_send(self._mailbox.on_checks_failed, job_id, reason)
            return None
        return checked_again(watched, now, failing_since=since, last_error=checked.error)

    async def _view(self, ctx: restate.ObjectSharedContext, job_id: str) -> WatchView | None:
        """What the dependency said of a watched job at its last check; no call to it."""
        watched = await ctx.get(WATCH_PREFIX + job_id, type_hint=Watch)
        if watched is None:
            return None
        return WatchView(last_state=watched.last_state, checks_failing=watched.last_error)

    def _schedule(self, ctx: restate.ObjectContext, at: float, now: float) -> None:
        ctx.set("sweep_at", at)
        ctx.object_send(self.sweep, ctx.key(), at, send_delay=timedelta(seconds=max(0.0, at - now)))
