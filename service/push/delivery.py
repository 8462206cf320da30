"""Push delivery: the result POSTed to the caller's callback_url, durably, until it lands.

The promise makes the first attempt itself, as a step of its own run (`push_result`): most
receivers take it, and then the delivery costs no invocation of its own. Only a first attempt
that must be retried is handed to `webhookDelivery`, one virtual object per webhook-id, which
sleeps durably between attempts and holds the outcome. Either way the outcome is readable at
`POST /webhookDelivery/{webhook-id}/status`. Every attempt is a durable step and every wait a
durable sleep: a restart resumes the plan, it does not reset it.

A virtual object it stays: Restate refuses a deployment that changes a service's type
(META0006), so making it a workflow would block every upgrade of a running system.
"""

import time
from datetime import datetime, timedelta
from typing import Literal

import restate
from pydantic import BaseModel
from restate import RunOptions, TerminalError

from service.backoff import backoff_delay
from service.endings import is_cancellation
from service.models import invocation_id_of
from service.push.webhook import AttemptOutcome, post_webhook, signed_headers
from service.settings import settings

webhook_delivery = restate.VirtualObject("webhookDelivery")

# How long a finished delivery's outcome stays readable: as long as the promise's own record.
DELIVERY_RETENTION = timedelta(days=1)


class DeliveryPolicy(BaseModel):
    """The settings this delivery runs with, and when it began. The promise snapshots them in
    its plan step, so the delivery needs no step of its own to read them."""

    attempt_timeout_s: float
    retry_window_s: float
    first_backoff_s: float
    max_backoff_s: float
    allow_private: bool
    started_at: float


class Attempt(AttemptOutcome):
    """One POST's outcome, and when it was over (journaled with it: no step of its own)."""

    finished_at: float


class DeliveryRequest(BaseModel):
    callback_url: str
    body: str
    # None from a promise of an older deployment: the delivery then reads the settings itself.
    policy: DeliveryPolicy | None = None
    # The attempt the promise made before handing over; None: no attempt made yet.
    first_attempt: Attempt | None = None


DeliveryState = Literal["pending", "retrying", "delivered", "gave_up"]


class DeliveryStatus(BaseModel):
    webhook_id: str
    callback_url: str
    state: DeliveryState = "pending"
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None


def delivery_policy() -> DeliveryPolicy:
    current = settings()
    return DeliveryPolicy(
        attempt_timeout_s=current.webhook_attempt_timeout_s,
        retry_window_s=current.webhook_retry_window_s,
        first_backoff_s=current.webhook_first_backoff_s,
        max_backoff_s=current.webhook_max_backoff_s,
        allow_private=current.allow_private_callbacks,
        started_at=time.time(),
    )


def backoff_s(
    policy: DeliveryPolicy, attempt: int, jitter: float, retry_after_s: float | None
) -> float:
    """Capped exponential backoff with jitter, never sooner than the receiver's Retry-After."""
    first, cap = policy.first_backoff_s, policy.max_backoff_s
    delay = backoff_delay(first, cap, attempt - 1, jitter=jitter)
    return max(delay, min(retry_after_s or 0.0, policy.max_backoff_s * 4))


async def attempt_delivery(
    request: DeliveryRequest, webhook_id: str, policy: DeliveryPolicy
) -> Attempt:
    # Signed when sent, inside the step: a POST re-sent after an outage carries a fresh
    # timestamp, not one the receiver's tolerance window would refuse.
    timestamp = int(time.time())
    body = request.body.encode()
    headers = signed_headers(settings().webhook_secret, webhook_id, timestamp, body)
    outcome = await post_webhook(
        request.callback_url,
        body,
        headers,
        timeout_s=policy.attempt_timeout_s,
        allow_private=policy.allow_private,
        now=float(timestamp),
    )
    return Attempt(**outcome.model_dump(), finished_at=time.time())


async def post_once(
    ctx: restate.Context, request: DeliveryRequest, webhook_id: str, policy: DeliveryPolicy
) -> Attempt:
    # The POST is one step: if we crash after it but before the journal records it, it is
    # sent again with the same webhook-id, and the receiver de-duplicates.
    return await ctx.run_typed(
        "POST webhook", attempt_delivery, RunOptions(), request, webhook_id, policy
    )


def count_attempt(
    status: DeliveryStatus, outcome: Attempt, policy: DeliveryPolicy, jitter: float
) -> float | None:
    """Add the attempt to the status; the wait before the next one, or None when it is over."""
    status.attempts += 1
    status.last_status, status.last_error = outcome.status, outcome.error
    delay = backoff_s(policy, status.attempts, jitter, outcome.retry_after_s)
    out_of_time = outcome.finished_at + delay - policy.started_at > policy.retry_window_s
    if outcome.verdict == "retry" and not out_of_time:
        status.state = "retrying"
        return delay
    status.state = "delivered" if outcome.verdict == "delivered" else "gave_up"
    return None


@webhook_delivery.handler("deliver", ingress_private=True)
async def deliver(ctx: restate.ObjectContext, request: DeliveryRequest) -> DeliveryStatus:
    status = DeliveryStatus(webhook_id=ctx.key(), callback_url=request.callback_url)
    policy = request.policy
    if policy is None:
        policy = await ctx.run_typed("delivery policy", delivery_policy)
    outcome = request.first_attempt
    while True:
        if outcome is None:
            outcome = await post_once(ctx, request, ctx.key(), policy)
        delay = count_attempt(status, outcome, policy, ctx.random().random())
        ctx.set("status", status)
        if delay is None:
            # The outcome stays readable as long as the promise itself does, then goes.
            ctx.object_send(forget_delivery, ctx.key(), None, send_delay=DELIVERY_RETENTION)
            return status
        await ctx.sleep(timedelta(seconds=delay), name="webhook backoff")
        outcome = None


@webhook_delivery.handler("status", kind="shared")
async def delivery_status(ctx: restate.ObjectSharedContext) -> DeliveryStatus | None:
    """The outcome so far; null before the first attempt, and after the retention. A delivery
    the promise completed at its first attempt never came here: its promise holds it."""
    status = await ctx.get("status", type_hint=DeliveryStatus)
    if status is not None:
        return status
    invocation_id = invocation_id_of(ctx.key())
    if invocation_id is None:
        return None
    # By name: `promise` imports this module, so its handler cannot be imported here.
    held = await ctx.generic_call("promise", "delivery", b"", key=invocation_id)
    return DeliveryStatus.model_validate_json(held) if held.strip() not in (b"", b"null") else None


@webhook_delivery.handler("forget", ingress_private=True)
async def forget_delivery(ctx: restate.ObjectContext) -> None:
    ctx.clear_all()


async def push_result(
    ctx: restate.Context,
    webhook_id: str,
    callback_url: str,
    body: str,
    policy: DeliveryPolicy | None,
    now: datetime,
) -> DeliveryStatus | None:
    """POST the result once from the promise's own run; hand a delivery that must be retried
    to `webhookDelivery`. Returns the outcome when the first attempt settled it (delivered,
    or given up), None when the retries carry on elsewhere. Its retry window starts `now`."""
    request = DeliveryRequest(callback_url=callback_url, body=body, policy=policy)
    if policy is None:
        # A plan journaled by an older version: the delivery reads the settings itself.
        ctx.object_send(deliver, webhook_id, request)
        return None
    request.policy = policy = policy.model_copy(update={"started_at": now.timestamp()})
    try:
        outcome = await post_once(ctx, request, webhook_id, policy)
    except TerminalError as error:
        if not is_cancellation(error):
            raise
        # Restate's cancel reached the promise mid-POST: the retries still owe the result.
        ctx.object_send(deliver, webhook_id, request)
        return None
    status = DeliveryStatus(webhook_id=webhook_id, callback_url=callback_url)
    if count_attempt(status, outcome, policy, ctx.random().random()) is None:
        return status
    ctx.object_send(deliver, webhook_id, request.model_copy(update={"first_attempt": outcome}))
    return None
