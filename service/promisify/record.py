"""What a promise has reached, as `status` shows it, and what a cancel by key answers.

`run` writes a `PromiseRecord` into the workflow's own state at each phase (no invocation
per phase); the shared handlers `status` and `cancel` read it while `run` is parked.
"""

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.promisify.delivery.models import DeliveryStatus
from service.promisify.job import ResultState

# As long as Restate answers for the idempotency key: status keeps answering as long as attach.
RETENTION = timedelta(days=1)

Phase = Literal["accepted", "queued", "running", "fetching", "done"]


class PromiseRecord(BaseModel):
    """What the promise has reached; `run` updates it, `status` reads it."""

    invocation_id: str
    subject: str
    submitted_at: datetime
    phase: Phase = "accepted"
    job_id: str | None = None
    job_state: str | None = None
    progress: int = 0
    state: ResultState | None = None
    error: str | None = None
    ended_at: datetime | None = None
    webhook_id: str | None = None
    # The invocation of `run`: Restate keeps its output, the result's very bytes, as long as
    # this record; a redelivery attaches to it (the job never runs again).
    run_id: str | None = None
    cancel_reason: str | None = None
    # The sweeper shard that watches the job, once one does (poll mode, or the safety net
    # fired): it knows the latest state and whether its checks fail. None: the mailbox knows.
    # Internal: `status` leaves it out.
    watched_by: str | None = None
    # Set when the promise's own first POST settled the delivery; else `webhookDelivery` has it.
    delivery: DeliveryStatus | None = None


class PromiseStatus(PromiseRecord):
    # Why the checks of the job's state keep failing, while they do: the promise is not
    # waiting silently on a check that cannot succeed.
    checks_failing: str | None = None
    elapsed_s: float


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=1000)


class CancelAnswer(BaseModel):
    outcome: Literal["cancelling", "already_cancelling", "too_late", "already_ended"]
    message: str
    state: ResultState | None = None


def seconds_since(start: datetime, now: datetime) -> float:
    return round(max(0.0, (now - start).total_seconds()), 3)
