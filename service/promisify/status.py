"""Where a promise stands, and cancelling it, by its key. The dependency is never called.

Both are shared handlers of the promise's workflow (as every handler but `run` is), so they
answer at once while `run` is parked. `status` reads the record `run` keeps, with the job's
latest state from whoever knows it (the mailbox, or the sweeper shard that watches it);
`cancel` resolves the workflow's durable promise "cancel", which `run` races against news
of the end and the deadline.
"""

import json
from datetime import UTC, datetime
from typing import Any

import restate
from pydantic import ValidationError
from restate import TerminalError
from restate.serde import BytesSerde

from service.promisify.delivery.delivery import Delivery
from service.promisify.delivery.models import DeliveryStatus
from service.promisify.job import FINAL_MEANINGS, Job
from service.promisify.mailbox import Mailbox
from service.promisify.record import (
    RETENTION,
    CancelAnswer,
    CancelRequest,
    PromiseRecord,
    PromiseStatus,
    seconds_since,
)
from service.promisify.sweeper import Sweeper
from service.promisify.validation import describe_validation_error


def parse_cancel(body: bytes) -> CancelRequest:
    """`{}`, `{"reason": "..."}` or nothing at all; anything else is a 400 naming the field."""
    try:
        return CancelRequest.model_validate_json(body.strip() or b"{}")
    except ValidationError as error:
        message = describe_validation_error(error, "cancel request", CancelRequest)
        raise TerminalError(message, 400) from None


class StatusHandlers:
    def __init__(
        self,
        workflow: restate.Workflow,
        job: Job[Any, Any, Any, Any],
        mailbox: Mailbox,
        sweeper: Sweeper,
        delivery: Delivery,
        cancel_promise: str,
        front: str,
    ) -> None:
        self._front = front
        self.job, self.mailbox, self.sweeper, self.delivery = job, mailbox, sweeper, delivery
        self._cancel = cancel_promise
        # Both public handlers take any body and content type (curl's default included).
        self.status = workflow.handler(
            "status", accept="*/*", input_serde=BytesSerde(), output_serde=BytesSerde()
        )(self._status)
        self.cancel = workflow.handler("cancel", accept="*/*", input_serde=BytesSerde())(
            self._cancel_by_key
        )
        # A delivery the promise settled at its first attempt (the delivery's `status` asks).
        self.delivery_held = workflow.handler("delivery", ingress_private=True)(self._delivery)

    async def _load(self, ctx: restate.WorkflowSharedContext) -> PromiseRecord:
        record = await ctx.get("record", type_hint=PromiseRecord)
        if record is None:
            raise TerminalError(
                f"No promise {ctx.key()!r}: no {self._front}, or it ended "
                f"more than {RETENTION.days} day(s) ago.",
                404,
            )
        return record

    async def current(self, ctx: restate.WorkflowSharedContext) -> PromiseStatus:
        """The record, with the job's latest state as events or the sweeper reported it."""
        record = await self._load(ctx)
        now = datetime.fromtimestamp(await ctx.time(), tz=UTC)
        status = PromiseStatus(
            **record.model_dump(),
            elapsed_s=seconds_since(record.submitted_at, record.ended_at or now),
        )
        if record.phase in ("queued", "running") and record.job_id:
            if record.watched_by is not None:
                view = await ctx.object_call(self.sweeper.view, record.watched_by, record.job_id)
                seen = view.last_state if view else None
                status.checks_failing = view.checks_failing if view else None
            else:
                seen = await ctx.object_call(self.mailbox.last_state, record.job_id, None)
            if seen is not None:
                status.job_state = seen
                meaning = self.job.meaning(seen)
                # Once the job is final, what is left for the promise is reading its result.
                if meaning in FINAL_MEANINGS:
                    status.phase = "fetching"
                elif meaning == "running":
                    status.phase = "running"
        return status

    async def _status(self, ctx: restate.WorkflowSharedContext, _body: bytes) -> bytes:
        status = await self.current(ctx)
        if status.webhook_id is not None and status.phase == "done":
            # The delivery object holds a delivery that retried or was redelivered (all its
            # attempts); else the record holds the one its first attempt settled.
            held = await ctx.object_call(self.delivery.held, status.webhook_id, None)
            status.delivery = held or status.delivery
        # The adapter's names for the job's fields (e.g. `query_execution_id` for `job_id`).
        names = self.job.status_names
        shown = {
            names.get(key, key): value for key, value in status.model_dump(mode="json").items()
        }
        return json.dumps(shown, separators=(",", ":"), ensure_ascii=False).encode()

    async def _delivery(self, ctx: restate.WorkflowSharedContext) -> DeliveryStatus | None:
        record = await ctx.get("record", type_hint=PromiseRecord)
        return record.delivery if record else None

    async def _cancel_by_key(self, ctx: restate.WorkflowSharedContext, body: bytes) -> CancelAnswer:
        request = parse_cancel(body)
        status = await self.current(ctx)
        job = self.job
        if status.phase == "done":
            return CancelAnswer(
                outcome="already_ended",
                message=f"The promise had already ended ({status.state}); nothing was cancelled.",
                state=status.state,
            )
        if status.phase == "fetching":
            return CancelAnswer(
                outcome="too_late",
                message=f"Too late to cancel: {job.name} had already finished, so its result "
                "stands.",
            )
        requested = ctx.promise(self._cancel, type_hint=str)
        if await requested.peek() is not None:
            return CancelAnswer(outcome="already_cancelling", message="A cancel is under way.")
        await requested.resolve(request.reason or "no reason given")
        return CancelAnswer(
            outcome="cancelling",
            message=f"Cancelling: the {job.noun} is stopped unless {job.name} has already "
            "finished it.",
        )
