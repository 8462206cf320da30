"""The durable promise: one job, started once, awaited durably, answered once.

A Restate workflow keyed by the invocation id of the front (the id a caller's idempotency
key resolves to). `run` reads top to bottom as the story of the durable steps; every ending
(the job finishing, the deadline, a cancel, a step that failed for good) becomes one result,
pulled and pushed as the same bytes. `status` and `cancel` are shared handlers: they answer
at once while `run` is parked, and never call the dependency.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic

import restate
from restate import TerminalError
from restate.serde import PydanticJsonSerde

from service.promisify import telemetry
from service.promisify.completion import Watching, await_completion, strategy_for
from service.promisify.delivery.delivery import Delivery
from service.promisify.delivery.models import webhook_id_for
from service.promisify.delivery.redeliver import Redelivery
from service.promisify.endings import (
    RESTATE_CANCEL,
    Ending,
    despite_cancel,
    heard_last,
    is_cancellation,
    verdict,
)
from service.promisify.job import CollectedT, Job, RequestT, ResultT, Settled, StatusT
from service.promisify.mailbox import Mailbox
from service.promisify.plan import Handed, PromiseStart, start_token
from service.promisify.planner import Planner
from service.promisify.record import RETENTION, PromiseRecord
from service.promisify.settings import PromiseSettings, ServiceNames
from service.promisify.status import StatusHandlers
from service.promisify.steps import DurableSteps, durable_call
from service.promisify.sweeper import Sweeper

# Stopping a job on the way out must not hold the answer back for long: a minute at most,
# then the promise resolves anyway (the dependency's own limits still bound the job).
STOP_WINDOW_S = 60.0
CANCEL = "cancel"


@dataclass
class Outcome(Generic[StatusT, CollectedT]):
    """How the promise ended, what the dependency last said, and what was read."""

    ending: Ending
    job_id: str | None = None
    status: StatusT | None = None
    collected: CollectedT | None = None


class ResultSerde(PydanticJsonSerde[ResultT]):
    """The pull response is made by `encode`, the very function that makes the webhook body."""

    def serialize(self, obj: ResultT | None) -> bytes:
        return encode(obj) if obj is not None else b""


def encode(result: Any) -> bytes:
    return bytes(result.model_dump_json().encode())


class PromiseWorkflow(Generic[RequestT, StatusT, CollectedT, ResultT]):
    def __init__(
        self,
        names: ServiceNames,
        job: Job[RequestT, StatusT, CollectedT, ResultT],
        settings: Callable[[], PromiseSettings],
        mailbox: Mailbox,
        sweeper: Sweeper,
        delivery: Delivery,
    ) -> None:
        self.names, self.job, self._settings = names, job, settings
        self.mailbox, self.sweeper, self.delivery = mailbox, sweeper, delivery
        self.planner = Planner(job, settings)
        self.workflow = wf = restate.Workflow(self.workflow_name(names))
        self.register_main(wf)
        entry = self.entry(names)
        self.handlers = StatusHandlers(wf, job, mailbox, sweeper, delivery, CANCEL, entry)
        self.redelivery = Redelivery(wf, delivery, settings, entry)

    def workflow_name(self, names: ServiceNames) -> str:
        return names.promise

    def entry(self, names: ServiceNames) -> str:
        """Where its promises come in, as messages name it."""
        return f"{names.front}/{names.front_handler} invocation with this id"

    def register_main(self, wf: restate.Workflow) -> None:
        """`run`, started by the front with the request it parsed: only the front calls it."""
        handed = Handed[self.job.request_type]  # type: ignore[name-defined]
        wf.main(
            "run",
            input_serde=PydanticJsonSerde(handed),
            output_serde=ResultSerde(self.job.result_type),
            workflow_retention=RETENTION,
            ingress_private=True,
        )(self.begin)

    async def begin(self, ctx: restate.WorkflowContext, handed: Handed[RequestT]) -> ResultT:
        request, plan = handed.request, handed.plan
        if plan is None:
            planned = await self.planner.step(ctx, request)
            request, plan = planned.request, planned.plan
        # Keyed by the front's invocation: its id stands for the promise (the start token, the
        # webhook-id), and a caller's key resolves to it.
        start: PromiseStart[RequestT] = PromiseStart(
            request=request, invocation_id=ctx.key(), plan=plan
        )
        return await self.run(ctx, start)

    def webhook_id(self, ctx: restate.WorkflowContext, start: PromiseStart[RequestT]) -> str:
        """The id its webhook is sent with: the front's invocation, which keys this workflow."""
        return webhook_id_for(start.invocation_id)

    @property
    def retry_window_s(self) -> float:
        return self._settings().retry_window_s

    async def run(self, ctx: restate.WorkflowContext, start: PromiseStart[RequestT]) -> ResultT:
        request, plan, job = start.request, start.plan, self.job
        callback_url: str | None = getattr(request, "callback_url", None)
        record = PromiseRecord(
            invocation_id=start.invocation_id,
            subject=job.subject(request),
            submitted_at=plan.submitted_at,
            webhook_id=self.webhook_id(ctx, start) if callback_url else None,
            run_id=ctx.request().id,
        )
        telemetry.promise_began(job.name)
        ctx.set("record", record)
        outcome = await self.settle(ctx, start, record)
        result = await self.conclude(ctx, start, outcome, record)
        if callback_url and record.webhook_id:
            # Pushed before it is returned: the first attempt is a step here, not an invocation.
            body = encode(result).decode()
            ended = record.ended_at or plan.submitted_at
            completed_at = telemetry.completion_time(outcome.status)
            policy = plan.delivery.model_copy(update={"completed_at": completed_at})
            delivered = await self.delivery.push(
                ctx, record.webhook_id, callback_url, body, policy, ended
            )
            if delivered is not None:
                record.delivery = delivered
                ctx.set("record", record)
        telemetry.promise_returned()
        return result

    async def settle(
        self, ctx: restate.WorkflowContext, start: PromiseStart[RequestT], record: PromiseRecord
    ) -> Outcome[StatusT, CollectedT]:
        """Start the job, wait for its ending, stop it if it still runs, read its result."""
        job, request, plan = self.job, start.request, start.plan
        window = self.retry_window_s
        # The token comes from the invocation, so a retried start runs nothing new.
        token = start_token(start.invocation_id)
        try:
            job_id = await self.start_job(ctx, request, token)
        except TerminalError as error:
            if is_cancellation(error):
                return await self.cancelled_while_starting(ctx, request, token, record)
            # The dependency refused to start it, or stayed unreachable: nothing to stop.
            detail = f"{job.name} did not start the {job.noun}: {error.message}"
            return Outcome(Ending(kind="failed", detail=detail))
        strategy = strategy_for(Watching(plan.completion, self.mailbox, self.sweeper))
        record.phase, record.job_id, record.job_state = "queued", job_id, job.initial_state
        record.watched_by = strategy.watcher(job_id)
        telemetry.phase(record.phase)
        ctx.set("record", record)

        def watched_by(shard: str) -> None:
            record.watched_by = shard
            ctx.set("record", record)

        async def confirm(news: str) -> StatusT:
            return await durable_call(
                ctx,
                f"describe {job.noun}",
                job.describe,
                job_id,
                news,
                request,
                result=job.status_type,
                window_s=window,
            )

        cancelled = ctx.promise(CANCEL, type_hint=str).value()
        waited = await await_completion(
            ctx, job, strategy, job_id, plan.timeout_s, cancelled, confirm, watched_by
        )
        ending, status = waited.ending, waited.status
        if ending.kind != "finished":
            # Past the deadline, cancelled, or failing: stop the job so it stops costing money.
            status = await self.stop(ctx, job_id)
            record.cancel_reason = ending.detail if ending.kind == "cancelled" else None
        if status is None or job.meaning(status.state) != "succeeded":
            return Outcome(ending, job_id, status)
        # Status shows "fetching" once a read step is needed (the adapter may have the whole
        # result already, read beside the status).
        record.phase, record.job_state = "fetching", status.state
        try:
            collected = await self.collect(ctx, request, status, record)
        except TerminalError as error:
            detail = f"reading the results failed: {error.message}"
            return Outcome(Ending(kind="failed", detail=detail), job_id, status)
        # The job succeeded: a step that failed while waiting no longer matters.
        ending = Ending(kind="finished") if ending.kind == "failed" else ending
        return Outcome(ending, job_id, status, collected)

    async def start_job(self, ctx: restate.WorkflowContext, request: RequestT, token: str) -> str:
        job = self.job
        return await durable_call(
            ctx,
            f"start {job.noun}",
            job.start,
            request,
            token,
            result=str,
            window_s=self.retry_window_s,
        )

    async def cancelled_while_starting(
        self, ctx: restate.WorkflowContext, request: RequestT, token: str, record: PromiseRecord
    ) -> Outcome[StatusT, CollectedT]:
        """Restate's own cancel came while the start was under way (to the direct entry's run
        itself, or passed on down the call from the front's invocation): the job may have
        started all the same. The same token starts nothing new and names it, and it is
        stopped as any cancelled job is."""
        ending = Ending(kind="cancelled", detail=RESTATE_CANCEL)
        record.cancel_reason = RESTATE_CANCEL
        try:
            job_id = await self.start_job(ctx, request, token)
        except TerminalError:
            return Outcome(ending)  # refused or unreachable: it did not start
        record.job_id = job_id
        return Outcome(ending, job_id, await self.stop(ctx, job_id))

    async def stop(self, ctx: restate.WorkflowContext, job_id: str) -> StatusT | None:
        """Stop the job and ask how it ended; None if the dependency cannot be reached in time."""
        job = self.job
        window = min(STOP_WINDOW_S, self.retry_window_s)
        try:
            await durable_call(
                ctx, f"stop {job.noun}", job.stop, job_id, result=type(None), window_s=window
            )
            # It may have finished before the stop landed: then its result stands.
            return await durable_call(
                ctx,
                f"describe {job.noun}",
                job.describe,
                job_id,
                None,
                result=job.status_type,
                window_s=window,
            )
        except TerminalError:
            return None

    async def collect(
        self,
        ctx: restate.WorkflowContext,
        request: RequestT,
        status: StatusT,
        record: PromiseRecord,
    ) -> CollectedT:
        def progress(items_so_far: int) -> None:
            record.progress = items_so_far
            ctx.set("record", record)

        def fetching() -> None:
            telemetry.phase(record.phase)
            ctx.set("record", record)

        steps = DurableSteps(ctx, self.retry_window_s, progress, fetching)
        # The job has finished: a cancel that comes now changes nothing, the result stands.
        return await despite_cancel(lambda: self.job.collect(steps, request, status))

    async def conclude(
        self,
        ctx: restate.WorkflowContext,
        start: PromiseStart[RequestT],
        outcome: Outcome[StatusT, CollectedT],
        record: PromiseRecord,
    ) -> ResultT:
        """The one place where every ending becomes the one result."""
        job, status = self.job, outcome.status
        meaning = job.meaning(status.state) if status is not None else None
        reason = status.reason if status is not None else None
        state, error = verdict(outcome.ending, meaning, reason, start.plan.timeout_s, job.noun)
        collected_at = outcome.collected.heard_at if outcome.collected else None
        heard = heard_last(outcome.ending, collected_at, status.heard_at if status else None)
        # The promise is ending already: a cancel landing on this step changes nothing.
        ended = heard or datetime.fromtimestamp(await despite_cancel(ctx.time), tz=UTC)
        settled = Settled(
            invocation_id=start.invocation_id,
            job_id=outcome.job_id,
            state=state,
            error=error,
            ended_at=ended,
        )
        result = job.result(settled, start.request, status, outcome.collected)
        record.phase, record.state, record.error, record.ended_at = "done", state, error, ended
        if status is not None:  # the job's last word (after a stop too), not its first state
            record.job_state = status.state
        record.progress = outcome.collected.count() if outcome.collected else 0
        telemetry.promise_ended(state, telemetry.completion_time(status))
        ctx.set("record", record)
        return result
