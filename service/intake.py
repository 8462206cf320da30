"""Before a query starts: the request checked, the settings planned, the start token derived."""

import hashlib
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError
from restate import TerminalError

from service.completion.plan import CompletionPlan
from service.models import QueryRequest, describe_validation_error
from service.push.callback_url import CallbackUrlRefused, check_callback_url
from service.push.delivery import DeliveryPolicy, delivery_policy
from service.settings import settings


def client_request_token(invocation_id: str) -> str:
    """Athena's idempotency token, derived from the invocation: every retry sends the same one."""
    return hashlib.sha256(f"{invocation_id}/start".encode()).hexdigest()


def parse_request(body: bytes) -> QueryRequest:
    """Validate before anything starts: a bad request is a 400 that names the field."""
    try:
        return QueryRequest.model_validate_json(body or b"{}")
    except ValidationError as error:
        raise TerminalError(describe_validation_error(error), status_code=400) from None


def refuse_unsafe_callback(url: str) -> None:
    try:
        check_callback_url(url, allow_private=settings().allow_private_callbacks)
    except CallbackUrlRefused as refusal:
        raise TerminalError(f"Invalid query request. callback_url: {refusal}", 400) from None


class QueryPlan(BaseModel):
    """The settings this invocation runs with, journaled so a replay after a redeploy agrees."""

    max_rows: int
    timeout_s: float
    completion: CompletionPlan
    # When the promise began: read in the same step, so it costs no journal entry of its own.
    submitted_at: datetime
    # How a webhook is sent; its `started_at` is set when the promise ends and pushes. None
    # in a plan journaled by an older version: the delivery then reads the settings itself.
    delivery: DeliveryPolicy | None = None


def check_and_plan(request: QueryRequest) -> QueryPlan:
    """Everything decided before the promise begins, in one step: the callback_url checked
    (a refusal is a 400 and nothing starts), then the plan."""
    if request.callback_url:
        refuse_unsafe_callback(request.callback_url)
    return plan_query(request)


def plan_query(request: QueryRequest) -> QueryPlan:
    current = settings()
    return QueryPlan(
        max_rows=current.default_max_rows if request.max_rows is None else request.max_rows,
        timeout_s=request.timeout_s or current.default_timeout_s,
        completion=CompletionPlan.from_settings(current),
        submitted_at=datetime.now(UTC),
        delivery=delivery_policy(),
    )
