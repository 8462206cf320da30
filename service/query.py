"""The durable promise: one Athena query, started once, awaited durably, answered once."""

from datetime import timedelta
from typing import Any

import restate
from restate import RunOptions
from restate.serde import BytesSerde

from service.athena.client import ExecutionStatus
from service.athena.results import build_result
from service.athena.steps import ATHENA_RETRY, athena, terminal_on_rejection
from service.backoff import backoff_delay
from service.completion.plan import stop_watching, watch_for_completion
from service.intake import (
    QueryPlan,
    client_request_token,
    parse_request,
    plan_query,
    refuse_unsafe_callback,
)
from service.models import QueryResult, QueryResultSerde, encode_result, webhook_id_for
from service.push.delivery import DeliveryRequest, deliver

query = restate.Service("query")


@query.handler(
    "query",
    input_serde=BytesSerde(),
    output_serde=QueryResultSerde(),
    # How long an idempotency key keeps answering with its result: re-attach within a day.
    idempotency_retention=timedelta(days=1),
)
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

    status, timed_out = await await_final_status(ctx, plan, execution_id)
    result = await build_result(
        ctx, request, status, plan.max_rows, plan.timeout_s, timed_out=timed_out
    )
    if request.callback_url:
        # Push runs as its own invocation: the pull answer never waits for the receiver.
        delivery = DeliveryRequest(
            callback_url=request.callback_url, body=encode_result(result).decode()
        )
        ctx.object_send(deliver, webhook_id_for(ctx.request().id), delivery)
    return result


async def await_final_status(
    ctx: restate.Context, plan: QueryPlan, execution_id: str
) -> tuple[ExecutionStatus, bool]:
    """Wait durably for Athena's final state; also says whether the deadline came first."""
    describe = terminal_on_rejection(athena().describe)
    # Park on an awakeable; an event or the watcher resolves it with the final state.
    awakeable_id, finished = ctx.awakeable(type_hint=str)
    watcher = watch_for_completion(ctx, plan.completion, execution_id, awakeable_id)
    deadline = ctx.sleep(timedelta(seconds=plan.timeout_s), name="query deadline")
    wake_up: restate.RestateDurableFuture[Any] = finished
    recheck = 0
    while True:
        winner, _ = await restate.select(wake_up=wake_up, deadline=deadline)
        if winner == "deadline":
            break
        status: ExecutionStatus = await ctx.run_typed(
            "describe query", describe, ATHENA_RETRY, execution_id
        )
        if status.is_final:
            break
        # An event is a hint and Athena the truth: after a premature or forged one, look again.
        first, cap = plan.completion.poll_first_s, plan.completion.poll_max_s
        wake_up = ctx.sleep(
            timedelta(seconds=backoff_delay(first, cap, recheck, growth=1.5)), name="recheck"
        )
        recheck += 1
    timed_out = winner == "deadline"
    if timed_out:
        # Past its deadline the query is stopped, so it stops costing money.
        stop = terminal_on_rejection(athena().stop)
        await ctx.run_typed("stop query", stop, ATHENA_RETRY, execution_id)
        status = await ctx.run_typed("describe query", describe, ATHENA_RETRY, execution_id)
    await stop_watching(ctx, plan.completion, execution_id, watcher)
    return status, timed_out
