"""Push delivery, durably: the first attempt in the promise's run, the retries in an object.

The promise makes the first attempt itself, as a step of its own run (`push`): most receivers
take it, and then the delivery costs no invocation of its own. Only a first attempt that
must be retried is handed to the delivery object (one virtual object per webhook-id), which
sleeps durably between attempts and holds the outcome. Either way the outcome is readable at
`POST /{delivery}/{webhook-id}/status`. Every attempt is a durable step and every wait a
durable sleep: a restart resumes the plan, it does not reset it.

A redelivery on demand (`redeliver` on the promise, see `redeliver.py`) comes here too, as a
`deliver` with its number: the same webhook-id, the same checks and schedule, and the status
goes on counting, so it shows every attempt, the manual ones included.
"""

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import restate
from restate import RunOptions, TerminalError

from service.promisify import telemetry
from service.promisify.awaiting import outcome_of
from service.promisify.delivery.models import (
    Attempt,
    DeliveryPolicy,
    DeliveryRequest,
    DeliveryStatus,
    count_attempt,
    origin_of,
)
from service.promisify.delivery.webhook import post_webhook, signed_headers
from service.promisify.endings import is_cancellation
from service.promisify.settings import PromiseSettings, ServiceNames
from webhooks.keys import SigningKeys

# How long a finished delivery's outcome stays readable: as long as the promise's own record.
DELIVERY_RETENTION = timedelta(days=1)


class Delivery:
    """The delivery object of one dependency's promise, and the promise's first attempt."""

    def __init__(self, names: ServiceNames, settings: Callable[[], PromiseSettings]) -> None:
        self.object = restate.VirtualObject(names.delivery)
        self._settings = settings
        self._promise, self._direct = names.promise, names.direct
        self.deliver = self.object.handler("deliver", ingress_private=True)(self._deliver)
        self.status = self.object.handler("status", kind="shared")(self._status)
        self.forget = self.object.handler("forget", ingress_private=True)(self._forget)
        # The object's own status only (no fallback to the promise): what the promise asks.
        self.held = self.object.handler("held", kind="shared", ingress_private=True)(self._held)
        # The whpk_ keys receivers verify v1a signatures with: public, on any key.
        self.public_keys = self.object.handler("publicKeys", kind="shared")(self._public_keys)

    async def attempt(self, request: DeliveryRequest, webhook_id: str) -> Attempt:
        # Signed when sent, inside the step: a POST re-sent after an outage carries a fresh
        # timestamp, not one the receiver's tolerance window would refuse.
        timestamp = int(time.time())
        body = request.body.encode()
        headers = signed_headers(self._settings().webhook_secret, webhook_id, timestamp, body)
        # Counted and traced each time it is sent; `traceparent` lets the receiver join in.
        with telemetry.webhook_attempt(webhook_id) as traced:
            outcome = await post_webhook(
                request.callback_url,
                body,
                headers | traced.headers,
                timeout_s=request.policy.attempt_timeout_s,
                allow_private=request.policy.allow_private,
                now=float(timestamp),
            )
            traced.outcome(outcome.verdict, outcome.status)
        return Attempt(**outcome.model_dump(), finished_at=time.time())

    async def post_once(
        self, ctx: restate.Context, request: DeliveryRequest, webhook_id: str
    ) -> Attempt:
        # The POST is one step: if we crash after it but before the journal records it, it is
        # sent again with the same webhook-id, and the receiver de-duplicates.
        return await ctx.run_typed(
            "POST webhook", self.attempt, RunOptions(type_hint=Attempt), request, webhook_id
        )

    async def _deliver(
        self, ctx: restate.ObjectContext, request: DeliveryRequest
    ) -> DeliveryStatus:
        status = DeliveryStatus(webhook_id=ctx.key(), callback_url=request.callback_url)
        if request.redelivery:
            held = await ctx.get("status", type_hint=DeliveryStatus) or request.prior or status
            if held.redeliveries >= request.redelivery:
                return held  # asked twice: this redelivery was made already
            status = held.model_copy(update={"redeliveries": request.redelivery})
            status.state = "pending"
            ctx.set("status", status)
        outcome = request.first_attempt
        while True:
            if outcome is None:
                outcome = await self.post_once(ctx, request, ctx.key())
            delay = count_attempt(status, outcome, request.policy, ctx.random().random())
            if delay is None:
                telemetry.delivery_over(status.state, outcome.finished_at, request.policy)
            ctx.set("status", status)
            if delay is None:
                # The outcome stays readable as long as the promise itself does, then goes.
                ctx.object_send(self.forget, ctx.key(), None, send_delay=DELIVERY_RETENTION)
                return status
            await outcome_of(ctx.sleep(timedelta(seconds=delay), name="webhook backoff"))
            outcome = None

    async def _status(self, ctx: restate.ObjectSharedContext) -> DeliveryStatus | None:
        """The outcome so far; null before the first attempt, and after the retention. A
        delivery the promise completed at its first attempt never came here: its promise
        holds it."""
        status = await ctx.get("status", type_hint=DeliveryStatus)
        if status is not None:
            return status
        origin = origin_of(ctx.key())
        if origin is None:
            return None
        # By name: the promise's workflow is built after this object, and calls it. A direct
        # promise is keyed by the caller's key, which its webhook-id carries.
        if origin.key is not None and self._direct is not None:
            workflow, key = self._direct, origin.key
        else:
            workflow, key = self._promise, origin.invocation_id
        held = await ctx.generic_call(workflow, "delivery", b"", key=key)
        return (
            DeliveryStatus.model_validate_json(held) if held.strip() not in (b"", b"null") else None
        )

    async def _held(self, ctx: restate.ObjectSharedContext) -> DeliveryStatus | None:
        return await ctx.get("status", type_hint=DeliveryStatus)

    async def _public_keys(self, ctx: restate.ObjectSharedContext) -> dict[str, list[str]]:
        keys = SigningKeys.parse(self._settings().webhook_secret, signing=True)
        return {"public_keys": keys.public_key_texts, "schemes": keys.schemes}

    async def _forget(self, ctx: restate.ObjectContext) -> None:
        status = await ctx.get("status", type_hint=DeliveryStatus)
        last = status.history[-1].finished_at.timestamp() if status and status.history else 0.0
        # A redelivery since this forget was sent keeps the outcome a day past its own end;
        # its own forget comes then. (A minute's slack for the clocks of server and service.)
        if await ctx.time() - last < DELIVERY_RETENTION.total_seconds() - 60:
            return
        ctx.clear_all()

    async def push(
        self,
        ctx: restate.Context,
        webhook_id: str,
        callback_url: str,
        body: str,
        policy: DeliveryPolicy,
        now: datetime,
    ) -> DeliveryStatus | None:
        """POST the result once from the promise's own run; hand a delivery that must be
        retried to the object. Returns the outcome when the first attempt settled it
        (delivered, or given up), None when the retries carry on elsewhere. Its retry window
        starts `now`."""
        policy = policy.model_copy(update={"started_at": now.timestamp()})
        request = DeliveryRequest(callback_url=callback_url, body=body, policy=policy)
        try:
            outcome = await self.post_once(ctx, request, webhook_id)
        except TerminalError as error:
            if not is_cancellation(error):
                raise
            # Restate's cancel reached the promise mid-POST: the retries still owe the result.
            ctx.object_send(self.deliver, webhook_id, request)
            return None
        status = DeliveryStatus(webhook_id=webhook_id, callback_url=callback_url)
        if count_attempt(status, outcome, policy, ctx.random().random()) is None:
            telemetry.delivery_over(status.state, outcome.finished_at, policy)
            return status
        retry = request.model_copy(update={"first_attempt": outcome})
        ctx.object_send(self.deliver, webhook_id, retry)
        return None
