"""The completion plan: which of events and polling resolve a query's awakeable."""

import restate
from pydantic import BaseModel

from service.completion.mailbox import UNCLAIMED_RETENTION, await_event, forget
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
