"""The mailbox where news of a job's end meets the awakeable waiting for it.

One virtual object per job id. Restate runs one handler at a time per key, so an event that
arrives before its waiter registered, a duplicate, and the waiter itself can never race:
whichever comes second completes the pair. News comes from the job's completion events (a
hint: anyone can post one) and from the sweeper's status checks (the truth). Once the pair is
complete the mailbox clears itself; news that came before its waiter is kept an hour (one
clean-up, however many events came), then forgotten. Where the deployment polls, no promise
waits here: an event costs its invocation and nothing more (no state, no clean-up).
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

import restate
from restate import TerminalError
from restate.serde import BytesSerde

from service.promisify.job import FINAL_MEANINGS, EventRefused, Job, News
from service.promisify.settings import PromiseSettings, ServiceNames

Source = Literal["event", "check"]
# The delayed clean-up's word: early news's hour is up (rather than the waiter leaving).
UNCLAIMED = "unclaimed"

log = restate.getLogger(__name__)


def read_event(job: Job[Any, Any, Any, Any], body: bytes) -> News | None:
    """The event's news, or a 400 naming the field: an event rule does not retry it (it goes
    to its dead-letter queue), and nothing is forwarded under a key nobody checked."""
    try:
        return job.read_event(body)
    except EventRefused as refusal:
        raise TerminalError(str(refusal), 400) from None


def tells_something(job: Job[Any, Any, Any, Any], news: News) -> bool:
    """Running (what status shows meanwhile) or an end; "waiting" tells nothing new: the
    promise knows it started the job."""
    return job.meaning(news.state) != "waiting"


class Mailbox:
    def __init__(
        self,
        names: ServiceNames,
        job: Job[Any, Any, Any, Any],
        settings: Callable[[], PromiseSettings],
    ) -> None:
        self.job, self._settings = job, settings
        self.object = obj = restate.VirtualObject(names.mailbox)
        self.await_news = obj.handler("awaitEvent", ingress_private=True)(self._await_news)
        self.rearm = obj.handler("rearm", ingress_private=True)(self._rearm)
        self.on_event = obj.handler("onEvent", accept="*/*", input_serde=BytesSerde())(
            self._on_event
        )
        self.on_forwarded = obj.handler("onStateChange", ingress_private=True)(self._on_forwarded)
        self.on_checked = obj.handler(names.mailbox_checked_handler, ingress_private=True)(
            self._on_checked
        )
        self.on_checks_failed = obj.handler("onChecksFailed", ingress_private=True)(
            self._on_checks_failed
        )
        self.last_state = obj.handler(names.last_state_handler, kind="shared")(self._last_state)
        self.forget = obj.handler("forget", ingress_private=True)(self._forget)

    async def _await_news(self, ctx: restate.ObjectContext, awakeable_id: str) -> None:
        final_state = await ctx.get("final_state", type_hint=str)
        if final_state is not None:
            # The event came first: it waited here for us.
            ctx.resolve_awakeable(awakeable_id, final_state)
            ctx.clear_all()
            return
        ctx.set("awakeable_id", awakeable_id)

    async def _rearm(self, ctx: restate.ObjectContext, awakeable_id: str) -> None:
        """After an event that was not the truth: wait again, for the sweeper's word only."""
        ctx.clear("final_state")
        ctx.set("trust_events", False)
        ctx.set("awakeable_id", awakeable_id)

    async def _on_event(self, ctx: restate.ObjectContext, body: bytes) -> None:
        """An event sent straight here (the rule puts the job's id in the path): one hop."""
        news = read_event(self.job, body)
        if news is None:
            return
        if news.job_id != ctx.key():
            job = self.job
            message = f"Invalid {job.name} state-change event: not for this {job.noun}'s path"
            raise TerminalError(message, 400)
        if tells_something(self.job, news):
            await self._take_news(ctx, news.state, "event")

    async def _on_forwarded(self, ctx: restate.ObjectContext, state: str) -> None:
        """An event's state, forwarded by the fixed-path events entry."""
        await self._take_news(ctx, state, "event")

    async def _on_checked(self, ctx: restate.ObjectContext, state: str) -> None:
        """A state the dependency itself reported to the sweeper."""
        await self._take_news(ctx, state, "check")

    async def _on_checks_failed(self, ctx: restate.ObjectContext, reason: str) -> None:
        """The sweeper gave up checking: the waiter ends the promise as a failed step."""
        awakeable_id = await ctx.get("awakeable_id", type_hint=str)
        if awakeable_id is not None:
            ctx.reject_awakeable(awakeable_id, reason)
            ctx.clear_all()

    async def _take_news(self, ctx: restate.ObjectContext, state: str, source: Source) -> None:
        if await ctx.get("final_state", type_hint=str) is not None:
            log.info("Late or duplicate %s for job %s ignored", state, ctx.key())
            return
        awakeable_id = await ctx.get("awakeable_id", type_hint=str)
        if awakeable_id is None and not self._worth_keeping(source):
            return
        final = self.job.meaning(state) in FINAL_MEANINGS
        # Whether events still count matters only for an end (a running state is no verdict).
        if final and source == "event" and await ctx.get("trust_events", type_hint=bool) is False:
            log.info("Event %s for job %s not trusted after a false one; ignored", state, ctx.key())
            return
        if final and awakeable_id is not None:
            # The news is the state: the promise may read the first part of the result at once.
            ctx.resolve_awakeable(awakeable_id, state)
            ctx.clear_all()
            return
        # Kept from here on, for status (a running state) or for a waiter (a final one).
        early = awakeable_id is None
        if early and await ctx.get("last_state", type_hint=str) is None:
            # The first news nobody waits for yet (or ever: not ours): forget it in an hour,
            # long enough for any waiter to register; once, whatever else comes before then.
            keep = timedelta(seconds=self._settings().unclaimed_news_retention_s)
            ctx.object_send(self.forget, ctx.key(), UNCLAIMED, send_delay=keep)
        ctx.set("last_state", state)
        if final:
            log.info("Event %s for job %s arrived before any waiter; keeping it", state, ctx.key())
            ctx.set("final_state", state)

    def _worth_keeping(self, source: Source) -> bool:
        """News with no waiter here: an event, unless the deployment polls. A check's promise
        has moved on; where the deployment polls, its promises never wait here, and each
        event kept would leave state and a clean-up behind for nothing (two a job)."""
        return source == "event" and self._settings().completion_mode != "poll"

    async def _last_state(self, ctx: restate.ObjectSharedContext) -> str | None:
        """The last state events (or the sweeper) reported; no call to the dependency."""
        return await ctx.get("last_state", type_hint=str)

    async def _forget(self, ctx: restate.ObjectContext, why: str | None) -> None:
        """The waiter left (`why` None), or early news's hour is up: a waiter that registered
        since owns the mailbox now (a job may run for longer than the hour), and its own
        ending clears it."""
        waiting = await ctx.get("awakeable_id", type_hint=str) is not None
        if waiting and why == UNCLAIMED:
            return
        if not waiting and await ctx.get("final_state", type_hint=str) is not None:
            log.info("No waiter claimed the event for job %s: it was not ours", ctx.key())
        ctx.clear_all()
