"""The durable promise: one Athena query, started once, awaited durably, answered once."""

import hashlib
from datetime import timedelta
from typing import Any

import restate
from pydantic import BaseModel, ValidationError
from restate import RunOptions, TerminalError
from restate.serde import BytesSerde

from service.athena import ExecutionStatus
from service.callback_url import CallbackUrlRefused, check_callback_url
from service.completion import CompletionPlan, stop_watching, watch_for_completion
from service.delivery import DeliveryRequest, deliver, webhook_id_for
from service.durable import ATHENA_RETRY, terminal_on_rejection
from service.models import Column, QueryRequest, QueryResult, encode_result
from service.results import fetch_rows
from service.runtime import athena
from service.settings import settings
from service.wire import QueryResultSerde, describe_validation_error

query = restate.Service("query")


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


def plan_query(request: QueryRequest) -> QueryPlan:
    current = settings()
    return QueryPlan(
        max_rows=current.default_max_rows if request.max_rows is None else request.max_rows,
        timeout_s=request.timeout_s or current.default_timeout_s,
        completion=CompletionPlan(
            mode=current.completion_mode,
            poll_first_s=current.poll_initial_s,
            poll_max_s=current.poll_max_s,
            safety_net_interval_s=current.safety_net_interval_s,
        ),
    )


@query.handler("query", input_serde=BytesSerde(), output_serde=QueryResultSerde())
async def run_query(ctx: restate.Context, body: bytes) -> QueryResult:
    request = parse_request(body)
    if request.callback_url:
        # DNS answers change: journal the verdict, so a replay reaches the same one.
        await ctx.run_typed(
            "check callback_url", refuse_unsafe_callback, RunOptions(), request.callback_url
        )
    plan: QueryPlan = await ctx.run_typed("plan", plan_query, RunOptions(), request)

    # The token comes from the invocation, so a retried start runs nothing new on Athena.
    token = client_request_token(ctx.request().id)
    start = terminal_on_rejection(athena().start)
    execution_id = await ctx.run_typed("start query", start, ATHENA_RETRY, request.query, token)

    # Park on an awakeable; an event or the watcher resolves it with the final state.
    awakeable_id, finished = ctx.awakeable(type_hint=str)
    watcher = watch_for_completion(ctx, plan.completion, execution_id, awakeable_id)
    deadline = ctx.sleep(timedelta(seconds=plan.timeout_s), name="query deadline")
    winner, _ = await restate.select(finished=finished, deadline=deadline)
    timed_out = winner == "deadline"
    if timed_out:
        # Past its deadline the query is stopped, so it stops costing money.
        stop = terminal_on_rejection(athena().stop)
        await ctx.run_typed("stop query", stop, ATHENA_RETRY, execution_id)
    await stop_watching(ctx, plan.completion, execution_id, watcher)

    describe = terminal_on_rejection(athena().describe)
    status: ExecutionStatus = await ctx.run_typed(
        "describe query", describe, ATHENA_RETRY, execution_id
    )
    result = await build_result(ctx, request, plan, status, timed_out=timed_out)
    if request.callback_url:
        # Push runs as its own invocation: the pull answer never waits for the receiver.
        delivery = DeliveryRequest(
            callback_url=request.callback_url, body=encode_result(result).decode()
        )
        ctx.object_send(deliver, webhook_id_for(ctx.request().id), delivery)
    return result


async def build_result(
    ctx: restate.Context,
    request: QueryRequest,
    plan: QueryPlan,
    status: ExecutionStatus,
    *,
    timed_out: bool,
) -> QueryResult:
    columns: list[Column] = []
    rows: list[list[Any]] = []
    truncated = False
    if status.state == "SUCCEEDED" and not timed_out:
        columns, rows, truncated = await fetch_rows(ctx, status, plan.max_rows)
    error = status.reason if status.state != "SUCCEEDED" else None
    if timed_out:
        error = f"The query did not finish within {plan.timeout_s:g} s and was stopped."
    return QueryResult(
        invocation_id=ctx.request().id,
        query_execution_id=status.query_execution_id,
        query=request.query,
        state="TIMED_OUT" if timed_out else status.state,  # type: ignore[arg-type]
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        output_location=status.output_location,
        statistics=status.statistics,
        error=error,
        submitted_at=status.submitted_at,
        completed_at=status.completed_at,
    )
