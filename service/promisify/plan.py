"""What a promise is started with: its plan (journaled once), and the start token."""

import hashlib
import time
from datetime import UTC, datetime
from typing import Generic

from pydantic import BaseModel

from service.promisify.completion import CompletionPlan
from service.promisify.delivery.models import DeliveryPolicy
from service.promisify.job import RequestT
from service.promisify.settings import PromiseSettings


def start_token(invocation_id: str) -> str:
    """The dependency's idempotency token, derived from the invocation: every retry of the
    start sends the same one, so a retried start runs nothing new."""
    return hashlib.sha256(f"{invocation_id}/start".encode()).hexdigest()


class PromisePlan(BaseModel):
    """The settings this invocation runs with, journaled so a replay after a redeploy agrees."""

    timeout_s: float
    completion: CompletionPlan
    # When the promise began: read in the same step, so it costs no journal entry of its own.
    submitted_at: datetime
    # How a webhook is sent; its `started_at` is set when the promise ends and pushes.
    delivery: DeliveryPolicy


class Handed(BaseModel, Generic[RequestT]):
    """What the front hands the promise: the request it parsed. The promise plans it in its
    own first step, as the direct entry's does.

    A front of the previous version planned in its own step and handed the plan along (with
    its invocation id, the workflow's key, which is ignored here): a promise it starts keeps
    that plan. Remove `plan` once no deployment of that version is registered."""

    request: RequestT
    plan: PromisePlan | None = None


class PromiseStart(BaseModel, Generic[RequestT]):
    """What the promise runs with: the request with its defaults, its id, and the plan."""

    request: RequestT
    invocation_id: str
    plan: PromisePlan


class Planned(BaseModel, Generic[RequestT]):
    request: RequestT
    plan: PromisePlan


def plan_promise(settings: PromiseSettings, request: BaseModel) -> PromisePlan:
    """The plan, from the settings and what the request asks (`timeout_s`, if it has one)."""
    timeout_s = getattr(request, "timeout_s", None) or settings.default_timeout_s
    return PromisePlan(
        timeout_s=timeout_s,
        completion=CompletionPlan.from_settings(settings),
        submitted_at=datetime.now(UTC),
        delivery=DeliveryPolicy.from_settings(settings, time.time()),
    )
