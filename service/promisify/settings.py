"""What the kit is told by the deployment: its settings and the names of its Restate services.

The kit reads no environment variables itself: each deployment reads its own (one place per
component) and hands the kit these values, so two dependencies in one process never share a
knob by accident.
"""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

CompletionMode = Literal["events", "poll", "both"]
HOUR_S = 3600.0
DAY_S = 24 * HOUR_S


class PromiseSettings(BaseModel):
    """The knobs of the durable promise; each deployment maps its environment onto them."""

    # How the promise learns that the job finished: events, the sweeper's checks, or both
    # (events, with a slow check as the safety net for a lost one).
    completion_mode: CompletionMode = "both"
    poll_initial_s: float = Field(0.25, gt=0)
    poll_max_s: float = Field(5.0, gt=0)
    safety_net_interval_s: float = Field(30.0, gt=0)
    # All parked promises together make at most this many status calls a second, over this
    # many sweeper shards: the dependency's account quota, not one call per promise.
    status_calls_per_s: float = Field(10.0, gt=0)
    sweeper_shards: int = Field(16, ge=1)
    # How long a call to the dependency is retried before the promise gives up on it.
    retry_window_s: float = Field(600.0, gt=0)
    default_timeout_s: float = Field(HOUR_S, gt=0)
    # How long news that came before its waiter is kept for it (then it was not ours).
    unclaimed_news_retention_s: float = Field(HOUR_S, gt=0)

    # Push delivery.
    webhook_secret: str = Field(repr=False)
    allow_private_callbacks: bool = False
    webhook_attempt_timeout_s: float = Field(15.0, gt=0)
    webhook_retry_window_s: float = Field(DAY_S, gt=0)
    webhook_first_backoff_s: float = Field(1.0, gt=0)
    webhook_max_backoff_s: float = Field(600.0, gt=0)


@dataclass(frozen=True)
class ServiceNames:
    """The Restate names of one dependency's promise. They are part of its public contract
    (ingress paths, registered services): choose them once."""

    # The public entry point, `POST /{front}/{front_handler}` with an idempotency key.
    front: str
    front_handler: str
    promise: str
    mailbox: str
    sweeper: str
    delivery: str
    # A fixed-path events entry (`POST /{events}/{events_handler}`) for event rules that
    # cannot put the job's id in the path; None: events go to `/{mailbox}/{id}/onEvent` only.
    events: str | None = None
    events_handler: str = "onStateChange"
    # The direct entry, `POST /{direct}/{key}/run`: the promise keyed by the caller's own key,
    # without the front's invocation (service/promisify/direct.py); None: the front only.
    direct: str | None = None
    # Two internal handler names, kept as the first deployment registered them (a handler
    # that an in-flight invocation calls must still exist after an upgrade).
    mailbox_checked_handler: str = "onCheckedState"
    last_state_handler: str = "lastState"
