"""The one race of a parked promise (news of the end, the deadline, a cancel, the safety net)
and the three ways news can come, each a small strategy.

- `events`: the job's completion events reach its mailbox, which resolves the awakeable.
- `poll`: the sweeper alone checks the job and resolves the awakeable itself (no mailbox).
- `both`: events, and a durable timer as the safety net: if no news came within its interval,
  the sweeper starts checking (reporting to the mailbox). A timely job never costs a check.

News is a hint and the dependency the truth: a final state counts only once the dependency
confirms it. After news that was not the truth (early or forged), only the sweeper's checks
count, so forged events cannot make the race loop again.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Protocol

import restate
from pydantic import BaseModel
from restate import TerminalError

from service.promisify.endings import RESTATE_CANCEL, Ending, is_cancellation
from service.promisify.job import FINAL_MEANINGS, Job, StatusT
from service.promisify.mailbox import Mailbox
from service.promisify.settings import CompletionMode, PromiseSettings
from service.promisify.sweeper import Sweeper, WatchRequest, shard_of


class CompletionPlan(BaseModel):
    """How this invocation learns of completion; snapshotted in the journal, so replays agree."""

    mode: CompletionMode
    poll_first_s: float
    poll_max_s: float
    safety_net_interval_s: float
    sweeper_shards: int

    @classmethod
    def from_settings(cls, settings: PromiseSettings) -> "CompletionPlan":
        return cls(
            mode=settings.completion_mode,
            poll_first_s=settings.poll_initial_s,
            poll_max_s=settings.poll_max_s,
            safety_net_interval_s=settings.safety_net_interval_s,
            sweeper_shards=settings.sweeper_shards,
        )


class Watching:
    """What every strategy shares: the mailbox, the sweeper, and the plan."""

    def __init__(self, plan: CompletionPlan, mailbox: Mailbox, sweeper: Sweeper) -> None:
        self.plan, self.mailbox, self.sweeper = plan, mailbox, sweeper

    def shard(self, job_id: str) -> str:
        return shard_of(job_id, self.plan.sweeper_shards)

    def sweep(
        self,
        ctx: restate.Context,
        job_id: str,
        first_s: float,
        max_s: float,
        *,
        due_in_s: float | None = None,
        awakeable_id: str | None = None,
    ) -> str:
        """Hand the job to its sweeper shard; returns the shard, which `status` then asks."""
        request = WatchRequest(
            job_id=job_id,
            first_delay_s=first_s,
            max_delay_s=max_s,
            due_in_s=due_in_s,
            awakeable_id=awakeable_id,
        )
        self.sweeper.register(ctx, request, self.plan.sweeper_shards)
        return self.shard(job_id)

    def distrust(self, ctx: restate.Context, job_id: str, awakeable_id: str) -> str:
        """After news that was not the truth: wait for the dependency's own word, briskly."""
        ctx.object_send(self.mailbox.rearm, job_id, awakeable_id)
        return self.sweep(ctx, job_id, self.plan.poll_first_s, self.plan.poll_max_s)


class Strategy(Protocol):
    watching: Watching

    def arm(
        self, ctx: restate.Context, job_id: str, awakeable_id: str
    ) -> restate.RestateDurableSleepFuture | None:
        """Arrange for the awakeable to be resolved; the safety net's timer, if any."""
        ...

    def watcher(self, job_id: str) -> str | None:
        """The sweeper shard that watches the job from the start (status asks it), if any."""
        ...

    def uses_mailbox(self) -> bool: ...


class Events:
    def __init__(self, watching: Watching) -> None:
        self.watching = watching

    def arm(
        self, ctx: restate.Context, job_id: str, awakeable_id: str
    ) -> restate.RestateDurableSleepFuture | None:
        ctx.object_send(self.watching.mailbox.await_news, job_id, awakeable_id)
        return None

    def watcher(self, job_id: str) -> str | None:
        return None

    def uses_mailbox(self) -> bool:
        return True


class Poll:
    def __init__(self, watching: Watching) -> None:
        self.watching = watching

    def arm(
        self, ctx: restate.Context, job_id: str, awakeable_id: str
    ) -> restate.RestateDurableSleepFuture | None:
        # The sweeper is the only news: it resolves the awakeable itself, no mailbox between.
        plan = self.watching.plan
        self.watching.sweep(
            ctx, job_id, plan.poll_first_s, plan.poll_max_s, awakeable_id=awakeable_id
        )
        return None

    def watcher(self, job_id: str) -> str | None:
        return self.watching.shard(job_id)

    def uses_mailbox(self) -> bool:
        return False


class EventsWithSafetyNet(Events):
    def arm(
        self, ctx: restate.Context, job_id: str, awakeable_id: str
    ) -> restate.RestateDurableSleepFuture | None:
        super().arm(ctx, job_id, awakeable_id)
        interval = timedelta(seconds=self.watching.plan.safety_net_interval_s)
        return ctx.sleep(interval, name="safety net")


def strategy_for(watching: Watching) -> Strategy:
    mode = watching.plan.mode
    if mode == "poll":
        return Poll(watching)
    return EventsWithSafetyNet(watching) if mode == "both" else Events(watching)


@dataclass
class Waited(Generic[StatusT]):
    """How the wait ended and, when the job finished, the dependency's word on it."""

    ending: Ending
    status: StatusT | None = None


async def await_completion(
    ctx: restate.WorkflowContext,
    job: Job[Any, StatusT, Any, Any],
    strategy: Strategy,
    job_id: str,
    timeout_s: float,
    cancelled: restate.RestateDurableFuture[str],
    confirm: Callable[[str], Awaitable[StatusT]],
    watched_by: Callable[[str], None],
) -> Waited[StatusT]:
    """Park until the job ends, the deadline passes, or a cancel comes; the job's word wins.
    `confirm(news)` asks the dependency after news of the end; `watched_by(shard)` hears when
    a sweeper shard takes over the checks later (status then asks it)."""
    watching = strategy.watching
    awakeable_id, finished = ctx.awakeable(type_hint=str)
    safety_net = strategy.arm(ctx, job_id, awakeable_id)
    interval = watching.plan.safety_net_interval_s
    # While the safety net is armed it is the only timer, and the deadline is armed when it
    # fires, for what is left: a job that ends in time costs one timer, not two.
    deadline = (
        None
        if safety_net is not None and interval < timeout_s
        else ctx.sleep(timedelta(seconds=timeout_s), name="deadline")
    )
    swept = False
    mailbox_holds_waiter = strategy.uses_mailbox()
    try:
        while True:
            waits: dict[str, restate.RestateDurableFuture[Any]] = {
                "finished": finished,
                "cancelled": cancelled,
            }
            if deadline is not None:
                waits["deadline"] = deadline
            if safety_net is not None:
                waits["safety_net"] = safety_net
            winner, value = await restate.select(**waits)
            if winner == "safety_net":
                safety_net = None
                if deadline is None:
                    deadline = ctx.sleep(timedelta(seconds=timeout_s - interval), name="deadline")
                if not swept:
                    # No news for a whole interval: the sweeper checks now, then every interval.
                    watched_by(watching.sweep(ctx, job_id, interval, interval, due_in_s=0))
                    swept = True
                continue
            if winner == "deadline":
                return Waited(Ending(kind="deadline"))
            if winner == "cancelled":
                return Waited(Ending(kind="cancelled", detail=str(value)))
            status = await confirm(str(value))
            if job.meaning(status.state) in FINAL_MEANINGS:
                mailbox_holds_waiter = False  # it cleared itself when it resolved the awakeable
                return Waited(Ending(kind="finished"), status)
            awakeable_id, finished = ctx.awakeable(type_hint=str)
            # The sweeper checks it briskly from now on; a safety net still armed only arms
            # the deadline when it fires.
            swept = True
            watched_by(watching.distrust(ctx, job_id, awakeable_id))
            mailbox_holds_waiter = True
    except TerminalError as error:
        if is_cancellation(error):
            return Waited(Ending(kind="cancelled", detail=RESTATE_CANCEL))
        # A step that failed for good, or the sweeper's checks that gave up.
        return Waited(Ending(kind="failed", detail=error.message))
    finally:
        # Whatever ended the wait, nobody needs the mailbox any more. The sweeper drops the
        # job at its next check: stopped or finished, it is final by then.
        if mailbox_holds_waiter:
            ctx.object_send(watching.mailbox.forget, job_id, None)
