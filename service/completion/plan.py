"""The completion plan: which of events and polling resolve a query's awakeable."""

import restate
from pydantic import BaseModel

from service.completion.mailbox import await_event, forget
from service.completion.watcher import WatchRequest, await_completion
from service.settings import CompletionMode, Settings


class CompletionPlan(BaseModel):
    """How this invocation learns of completion; snapshotted in the journal, so replays agree."""

    mode: CompletionMode
    poll_first_s: float
    poll_max_s: float
    safety_net_interval_s: float
    checks_per_invocation: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> "CompletionPlan":
        return cls(
            mode=settings.completion_mode,
            poll_first_s=settings.poll_initial_s,
            poll_max_s=settings.poll_max_s,
            safety_net_interval_s=settings.safety_net_interval_s,
            checks_per_invocation=settings.watch_checks_per_invocation,
        )


def watch_for_completion(
    ctx: restate.Context, plan: CompletionPlan, query_execution_id: str, awakeable_id: str
) -> restate.SendHandle | None:
    """Arrange for the awakeable to be resolved; returns the poll watcher, if one was started."""
    if plan.mode in ("events", "both"):
        ctx.object_send(await_event, query_execution_id, awakeable_id)
    if plan.mode == "events":
        return None
    if plan.mode == "poll":
        return poll_until_final(ctx, plan, query_execution_id, awakeable_id)
    # `both` polls rarely, only to catch an event that never came.
    cap = plan.safety_net_interval_s
    return start_watcher(ctx, plan, query_execution_id, awakeable_id, cap, cap)


def poll_until_final(
    ctx: restate.Context, plan: CompletionPlan, query_execution_id: str, awakeable_id: str
) -> restate.SendHandle:
    """A brisk watcher: poll mode, and the fallback after an event that was not the truth."""
    first, cap = plan.poll_first_s, plan.poll_max_s
    return start_watcher(ctx, plan, query_execution_id, awakeable_id, first, cap)


def start_watcher(
    ctx: restate.Context,
    plan: CompletionPlan,
    query_execution_id: str,
    awakeable_id: str,
    first_delay_s: float,
    max_delay_s: float,
) -> restate.SendHandle:
    watch = WatchRequest(
        query_execution_id=query_execution_id,
        awakeable_id=awakeable_id,
        first_delay_s=first_delay_s,
        max_delay_s=max_delay_s,
        checks_per_invocation=plan.checks_per_invocation,
    )
    return ctx.service_send(await_completion, watch)


async def stop_watching(
    ctx: restate.Context, query_execution_id: str, watchers: list[restate.SendHandle]
) -> None:
    """Whatever ended the wait, nobody needs the watchers or the event mailbox any more."""
    for watcher in watchers:
        await watcher.cancel_invocation()
    ctx.object_send(forget, query_execution_id, None)
