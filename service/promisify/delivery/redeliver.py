"""Redelivery on demand: `POST /{promise}/{invocation_id}/redeliver` POSTs the result again.

After a success or a give-up, as long as the promise answers (its retention, a day): the same
webhook-id, so receivers de-duplicate; a fresh timestamp and signature, since every attempt is
signed when sent; the callback URL checked as when it was submitted, and again on each
connection; today's retry schedule, its window starting now.

The bytes are the promise's own: Restate keeps the output of the workflow's `run` for its
retention, and this handler attaches to that invocation, so a redelivery never runs the job
again and can never send other bytes than the pulled ones. The attempts themselves are the
delivery object's, as for any retry, so its status shows every one, the manual ones included.
"""

import time
from collections.abc import Callable
from typing import Literal

import restate
from pydantic import BaseModel
from restate import RunOptions, TerminalError
from restate.serde import BytesSerde

from service.promisify.delivery.callback_url import CallbackUrlRefused, check_callback_url
from service.promisify.delivery.delivery import Delivery
from service.promisify.delivery.models import DeliveryPolicy, DeliveryRequest
from service.promisify.record import RETENTION, PromiseRecord
from service.promisify.settings import PromiseSettings


class RedeliveryAnswer(BaseModel):
    outcome: Literal["redelivering", "under_way"]
    webhook_id: str
    # The number of this redelivery (1 for the first); status shows its attempts under it.
    redelivery: int
    message: str


class Redelivery:
    def __init__(
        self,
        workflow: restate.Workflow,
        delivery: Delivery,
        settings: Callable[[], PromiseSettings],
        front: str,
    ) -> None:
        self.delivery, self._settings, self._front = delivery, settings, front
        self.redeliver = workflow.handler("redeliver", accept="*/*", input_serde=BytesSerde())(
            self._redeliver
        )

    def plan(self, callback_url: str) -> DeliveryPolicy:
        """The URL checked as when it was submitted, and the schedule, from today's settings."""
        settings = self._settings()
        try:
            check_callback_url(callback_url, allow_private=settings.allow_private_callbacks)
        except CallbackUrlRefused as refusal:
            raise TerminalError(f"Not redelivered: callback_url {refusal}", 400) from None
        return DeliveryPolicy.from_settings(settings, time.time())

    async def _redeliver(
        self, ctx: restate.WorkflowSharedContext, _body: bytes
    ) -> RedeliveryAnswer:
        record = await ctx.get("record", type_hint=PromiseRecord)
        if record is None:
            raise TerminalError(
                f"No promise {ctx.key()!r}: no {self._front}, or it ended "
                f"more than {RETENTION.days} day(s) ago, and its result with it.",
                404,
            )
        webhook_id = record.webhook_id
        if webhook_id is None:
            raise TerminalError(
                "Nothing to redeliver: it was submitted without a callback_url.", 400
            )
        if record.phase != "done":
            raise TerminalError("Not ended yet: its result is pushed when it ends.", 409)
        held = await ctx.object_call(self.delivery.held, webhook_id, None)
        current = held or record.delivery
        number = (current.redeliveries if current else 0) + 1
        if current is None or current.state in ("pending", "retrying"):
            message = f"A delivery of {webhook_id} is under way; status shows its attempts."
            return RedeliveryAnswer(
                outcome="under_way", webhook_id=webhook_id, redelivery=number - 1, message=message
            )
        # The very bytes that were pulled and pushed: the output of the promise's own run.
        body = await ctx.attach_invocation(record.run_id or record.invocation_id, BytesSerde())
        options = RunOptions(type_hint=DeliveryPolicy)
        policy = await ctx.run_typed(
            "check and plan redelivery", self.plan, options, current.callback_url
        )
        request = DeliveryRequest(
            callback_url=current.callback_url,
            body=body.decode(),
            policy=policy,
            redelivery=number,
            prior=current,
        )
        ctx.object_send(self.delivery.deliver, webhook_id, request)
        return RedeliveryAnswer(
            outcome="redelivering",
            webhook_id=webhook_id,
            redelivery=number,
            message=f"Redelivering {webhook_id} (redelivery #{number}, after {current.state}).",
        )
