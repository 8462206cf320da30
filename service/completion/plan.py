"""The completion plan: which of events and the sweeper resolve a query's awakeable."""

from datetime import timedelta

import restate
from pydantic import BaseModel

from service.completion.mailbox import await_event, forget, rearm
from service.completion.sweeper import WatchRequest, shard_of, watch_query
from service.settings import CompletionMode, Settings


class CompletionPlan(BaseModel):
    """How this invocation learns of completion; snapshotted in the journal, so replays agree."""

    mode: CompletionMode
    poll_first_s: float
    poll_max_s: float
    safety_net_interval_s: float
    sweeper_shards: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> "CompletionPlan":
        return cls(
            mode=settings.completion_mode,
            poll_first_s=settings.poll_initial_s,
            poll_max_s=settings.poll_max_s,
            safety_net_interval_s=settings.safety_net_interval_s,
            sweeper_shards=settings.sweeper_shards,
        )


def watch_for_completion(
    ctx: restate.Context, plan: CompletionPlan, query_execution_id: str, awakeable_id: str
) -> restate.RestateDurableSleepFuture | None:
    """Arrange for the awakeable to be resolved: by the mailbox, whoever brings the news, or
    in poll mode by the sweeper itself.

    In `both` mode this returns the safety net's timer: if it fires before any news came, the
    caller hands the query to the sweeper (`start_safety_net`). Most queries end, and their
    event arrives, well within the interval, so they never cost the sweeper a registration
    or a share of its checks; the timer is a journal entry, not an invocation."""
    if plan.mode == "poll":
        # The sweeper is the only news: it resolves the awakeable itself, no mailbox between.
        first, cap = plan.poll_first_s, plan.poll_max_s
        sweep_for(ctx, plan, query_execution_id, first, cap, awakeable_id=awakeable_id)
        return None
    ctx.object_send(await_event, query_execution_id, awakeable_id)
    if plan.mode == "both":
        return ctx.sleep(timedelta(seconds=plan.safety_net_interval_s), name="safety net")
    return None


def start_safety_net(ctx: restate.Context, plan: CompletionPlan, query_execution_id: str) -> None:
    """No news for a whole interval: the sweeper checks the query now, then every interval.
    Events say RUNNING in this mode, so the sweeper reports only the end."""
    interval = plan.safety_net_interval_s
    sweep_for(ctx, plan, query_execution_id, interval, interval, due_in_s=0)


def sweep_for(
    ctx: restate.Context,
    plan: CompletionPlan,
    query_execution_id: str,
    first_delay_s: float,
    max_delay_s: float,
    *,
    due_in_s: float | None = None,
    awakeable_id: str | None = None,
) -> None:
    request = WatchRequest(
        query_execution_id=query_execution_id,
        first_delay_s=first_delay_s,
        max_delay_s=max_delay_s,
        due_in_s=due_in_s,
        awakeable_id=awakeable_id,
    )
    watch_query(ctx, request, plan.sweeper_shards)


def distrust_events(
    ctx: restate.Context, plan: CompletionPlan, query_execution_id: str, awakeable_id: str
) -> None:
    """After an event that was not the truth: wait for Athena's own word, briskly."""
    ctx.object_send(rearm, query_execution_id, awakeable_id)
    sweep_for(ctx, plan, query_execution_id, plan.poll_first_s, plan.poll_max_s)


def stop_watching(ctx: restate.Context, query_execution_id: str, mailbox_clear: bool) -> None:
    """Whatever ended the wait, nobody needs the mailbox any more. The sweeper drops the query
    at its next check: stopped or finished, it is final by then."""
    if not mailbox_clear:
        ctx.object_send(forget, query_execution_id, None)


def state_keeper(plan: CompletionPlan, query_execution_id: str) -> str | None:
    """Where `status` finds Athena's latest state: the sweeper shard in poll mode, None for
    the query's mailbox (where events, and the sweeper's word beside them, arrive)."""
    return shard_of(query_execution_id, plan.sweeper_shards) if plan.mode == "poll" else None
