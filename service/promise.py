"""The promise by its invocation id: where it stands, and cancelling it. Athena is not asked.

The durable promise is a Restate workflow keyed by the invocation id of `query/query` (the
id a caller's idempotency key resolves to, see the README). Its `run` (in `query.py`) writes
a `PromiseRecord` into the workflow's own state at each phase: no extra invocation per phase.
`status` reads it; `cancel` resolves the workflow's durable promise "cancel", which `run`
waits on beside Athena's completion and the deadline. Both are shared handlers, as every
workflow handler but `run` is, so they answer at once while `run` is parked.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal

import restate
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from restate import TerminalError
from restate.serde import BytesSerde

from service.completion.mailbox import athena_state
from service.completion.sweeper import watched_state
from service.models import ResultState, describe_validation_error
from service.push.delivery import DeliveryStatus, delivery_status

# As long as Restate answers for the idempotency key: status keeps answering as long as attach.
RETENTION = timedelta(days=1)

promise = restate.Workflow("promise")

Phase = Literal["accepted", "queued", "running", "fetching", "done"]
CANCEL = "cancel"


class PromiseRecord(BaseModel):
    """What the promise has reached; `run` updates it, `status` reads it."""

    invocation_id: str
    query: str
    submitted_at: datetime
    phase: Phase = "accepted"
    query_execution_id: str | None = None
    athena_state: str | None = None
    rows_fetched: int = 0
    state: ResultState | None = None
    error: str | None = None
    ended_at: datetime | None = None
    webhook_id: str | None = None
    cancel_reason: str | None = None
    # The sweeper shard that knows Athena's latest state (poll mode); None: the mailbox does.
    state_keeper: str | None = None
    # Set when the promise's own first POST settled the delivery; else `webhookDelivery` has it.
    delivery: DeliveryStatus | None = None


class PromiseStatus(PromiseRecord):
    elapsed_s: float
    state_keeper: str | None = Field(None, exclude=True)  # internal: not part of the answer


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=1000)


class CancelAnswer(BaseModel):
    outcome: Literal["cancelling", "already_cancelling", "too_late", "already_ended"]
    message: str
    state: ResultState | None = None


def parse_cancel(body: bytes) -> CancelRequest:
    """`{}`, `{"reason": "..."}` or nothing at all; anything else is a 400 naming the field."""
    try:
        return CancelRequest.model_validate_json(body.strip() or b"{}")
    except ValidationError as error:
        message = describe_validation_error(error, "cancel request", CancelRequest)
        raise TerminalError(message, 400) from None


async def load_record(ctx: restate.WorkflowSharedContext) -> PromiseRecord:
    record = await ctx.get("record", type_hint=PromiseRecord)
    if record is None:
        raise TerminalError(
            f"No promise {ctx.key()!r}: no query/query invocation with this id, or it ended "
            f"more than {RETENTION.days} day(s) ago.",
            404,
        )
    return record


def seconds_since(start: datetime, now: datetime) -> float:
    return round(max(0.0, (now - start).total_seconds()), 3)


async def current(ctx: restate.WorkflowSharedContext) -> PromiseRecord:
    """The record, with Athena's latest state as events (or the sweeper) reported it."""
    record = await load_record(ctx)
    query_execution_id = record.query_execution_id
    if record.phase == "queued" and query_execution_id:
        if record.state_keeper is not None:
            seen = await ctx.object_call(watched_state, record.state_keeper, query_execution_id)
        else:
            seen = await ctx.object_call(athena_state, query_execution_id, None)
        if seen is not None:
            record.athena_state = seen
            # Once Athena is final, what is left for the promise is reading the rows.
            record.phase = "running" if seen == "RUNNING" else "fetching"
    return record


# Both public handlers take any body and content type (curl's default form type included).
@promise.handler("status", accept="*/*", input_serde=BytesSerde())
async def status(ctx: restate.WorkflowSharedContext, _body: bytes) -> PromiseStatus:
    record = await current(ctx)
    now = datetime.fromtimestamp(await ctx.time(), tz=UTC)
    if record.delivery is None and record.webhook_id is not None:
        record.delivery = await ctx.object_call(delivery_status, record.webhook_id, None)
    return PromiseStatus(
        **record.model_dump(), elapsed_s=seconds_since(record.submitted_at, record.ended_at or now)
    )


@promise.handler("delivery", ingress_private=True)
async def settled_delivery(ctx: restate.WorkflowSharedContext) -> DeliveryStatus | None:
    """A delivery the promise settled at its first attempt (`webhookDelivery/status` asks)."""
    record = await ctx.get("record", type_hint=PromiseRecord)
    return record.delivery if record else None


@promise.handler("cancel", accept="*/*", input_serde=BytesSerde())
async def cancel(ctx: restate.WorkflowSharedContext, body: bytes) -> CancelAnswer:
    request = parse_cancel(body)
    record = await current(ctx)
    if record.phase == "done":
        return CancelAnswer(
            outcome="already_ended",
            message=f"The promise had already ended ({record.state}); nothing was cancelled.",
            state=record.state,
        )
    if record.phase == "fetching":
        return CancelAnswer(
            outcome="too_late",
            message="Too late to cancel: Athena had already finished, so its result stands.",
        )
    requested = ctx.promise(CANCEL, type_hint=str)
    if await requested.peek() is not None:
        return CancelAnswer(outcome="already_cancelling", message="A cancel is under way.")
    await requested.resolve(request.reason or "no reason given")
    return CancelAnswer(
        outcome="cancelling",
        message="Cancelling: the query is stopped unless Athena has already finished it.",
    )
