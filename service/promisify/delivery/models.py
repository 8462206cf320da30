"""What push delivery plans, sends and reports, and the one rule that counts an attempt."""

from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.promisify.backoff import backoff_delay
from service.promisify.delivery.webhook import AttemptOutcome, Verdict
from service.promisify.settings import PromiseSettings


class DeliveryPolicy(BaseModel):
    """The settings this delivery runs with, and when it began. The promise snapshots them in
    its plan step, so the delivery needs no step of its own to read them."""

    attempt_timeout_s: float
    retry_window_s: float
    first_backoff_s: float
    max_backoff_s: float
    allow_private: bool
    started_at: float
    # When the job itself completed, for the completion-to-delivery metric (None: unknown).
    completed_at: float | None = None

    @classmethod
    def from_settings(cls, settings: PromiseSettings, now: float) -> "DeliveryPolicy":
        return cls(
            attempt_timeout_s=settings.webhook_attempt_timeout_s,
            retry_window_s=settings.webhook_retry_window_s,
            first_backoff_s=settings.webhook_first_backoff_s,
            max_backoff_s=settings.webhook_max_backoff_s,
            allow_private=settings.allow_private_callbacks,
            started_at=now,
        )


class Attempt(AttemptOutcome):
    """One POST's outcome, and when it was over (journaled with it: no step of its own)."""

    finished_at: float


DeliveryState = Literal["pending", "retrying", "delivered", "gave_up"]
# Every attempt is shown; past this many, the oldest go (a day of retries makes about 155).
MAX_HISTORY = 500


class AttemptRecord(BaseModel):
    """One attempt as status shows it."""

    attempt: int
    # 0: the delivery the promise made when it ended; n: the nth redelivery on demand.
    redelivery: int
    finished_at: datetime
    verdict: Verdict
    status: int | None = None
    error: str | None = None


class DeliveryStatus(BaseModel):
    webhook_id: str
    callback_url: str
    state: DeliveryState = "pending"
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    # How many times an operator asked for it again (`redeliver`), and every attempt.
    redeliveries: int = 0
    history: list[AttemptRecord] = Field(default_factory=list)


class DeliveryRequest(BaseModel):
    callback_url: str
    body: str
    policy: DeliveryPolicy
    # The attempt the promise made before handing over; None: no attempt made yet.
    first_attempt: Attempt | None = None
    # A redelivery on demand: its number (0: the first delivery), and the status so far when
    # the promise held it (its first attempt settled it, so the object has none).
    redelivery: int = 0
    prior: DeliveryStatus | None = None


def backoff_s(
    policy: DeliveryPolicy, attempt: int, jitter: float, retry_after_s: float | None
) -> float:
    """Capped exponential backoff with jitter, never sooner than the receiver's Retry-After."""
    first, cap = policy.first_backoff_s, policy.max_backoff_s
    delay = backoff_delay(first, cap, attempt - 1, jitter=jitter)
    return max(delay, min(retry_after_s or 0.0, policy.max_backoff_s * 4))


def count_attempt(
    status: DeliveryStatus, outcome: Attempt, policy: DeliveryPolicy, jitter: float
) -> float | None:
    """Add the attempt to the status; the wait before the next one, or None when it is over."""
    status.attempts += 1
    status.last_status, status.last_error = outcome.status, outcome.error
    finished_at = datetime.fromtimestamp(outcome.finished_at, tz=UTC)
    status.history.append(
        AttemptRecord(
            attempt=status.attempts,
            redelivery=status.redeliveries,
            finished_at=finished_at,
            verdict=outcome.verdict,
            status=outcome.status,
            error=outcome.error,
        )
    )
    del status.history[:-MAX_HISTORY]
    delay = backoff_s(policy, status.attempts, jitter, outcome.retry_after_s)
    out_of_time = outcome.finished_at + delay - policy.started_at > policy.retry_window_s
    if outcome.verdict == "retry" and not out_of_time:
        status.state = "retrying"
        return delay
    status.state = "delivered" if outcome.verdict == "delivered" else "gave_up"
    return None


WEBHOOK_ID_PREFIX = "msg_"
# A direct promise's webhook-id carries its workflow key after this mark (base64url), for its
# delivery's status to find it. Neither invocation ids nor base64url contain it, and it is
# no `.` or `/`, which receivers refuse in a webhook-id (`.` joins the signed content).
KEY_MARK = "~"
# Receivers take webhook-ids of up to 256 characters: `msg_`, an invocation id (38), the mark
# and the key's base64url (4 characters for 3 bytes) fit with this many bytes of key.
MAX_KEY_BYTES = 150


@dataclass(frozen=True)
class WebhookOrigin:
    """The promise a webhook-id was made for: its run's invocation, and a direct one's key."""

    invocation_id: str
    key: str | None = None


def webhook_id_for(invocation_id: str, key: str | None = None) -> str:
    """The webhook-id of a result: stable across every retry and replay (the invocation is
    the message), and what `GET /deliveries/{webhook-id}` on the listener is keyed by. The
    invocation makes it unique even when a key is used again after its retention."""
    suffix = "" if key is None else KEY_MARK + urlsafe_b64encode(key.encode()).decode().rstrip("=")
    return f"{WEBHOOK_ID_PREFIX}{invocation_id}{suffix}"


def origin_of(webhook_id: str) -> WebhookOrigin | None:
    """Where a webhook-id came from; None for an id `webhook_id_for` never made."""
    rest = webhook_id.removeprefix(WEBHOOK_ID_PREFIX)
    invocation_id, marked, encoded = rest.partition(KEY_MARK)
    if not invocation_id or rest == webhook_id:
        return None
    if not marked:
        return WebhookOrigin(invocation_id)
    try:
        key = urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:  # not base64, or not UTF-8
        return None
    # Only the one spelling webhook_id_for makes (the decoder skips stray characters).
    return (
        WebhookOrigin(invocation_id, key)
        if webhook_id_for(invocation_id, key) == webhook_id
        else None
    )


def invocation_id_of(webhook_id: str) -> str | None:
    """The invocation a webhook-id was made from; None for an id `webhook_id_for` never made."""
    origin = origin_of(webhook_id)
    return origin.invocation_id if origin else None
