"""The durable promise: one Athena query, started once, awaited durably, answered once.

`query/query` is the public entry point (idempotent by the caller's key); it checks the
request and hands it to the `promise` workflow keyed by its own invocation id, whose `run`
is the story below. Every ending (Athena finishing, the deadline, a cancel, a step that failed
for good) becomes one `QueryResult`, pulled and pushed as the same bytes.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import restate
from pydantic import BaseModel
from restate import RunOptions, TerminalError
from restate.serde import BytesSerde

from service.athena.client import Described, ExecutionStatus, ResultPage
from service.athena.results import Rows, fetch_rows, first_page_size
from service.athena.steps import athena, athena_retry, terminal_on_rejection
from service.completion.plan import (
    distrust_events,
    start_safety_net,
    state_keeper,
    stop_watching,
    watch_for_completion,
)
from service.endings import RESTATE_CANCEL, Ending, ended_at, is_cancellation, query_result
from service.intake import (
    QueryPlan,
    check_and_plan,
    client_request_token,
    parse_request,
    plan_query,
)
from service.models import (
    QueryRequest,
    QueryResult,
    QueryResultSerde,
    encode_result,
    webhook_id_for,
)
from service.promise import CANCEL, RETENTION, CancelRequest, PromiseRecord, promise
from service.push.delivery import push_result

query = restate.Service("query")

# Stopping a query on the way out must not hold the answer back for long: a minute at most,
# then the promise resolves anyway (the workgroup's own limits still bound the query).
STOP_WINDOW_S = 60.0


class PromiseStart(BaseModel):
    request: QueryRequest
    invocation_id: str
    # None from a front of an older deployment: the promise then plans itself.
    plan: QueryPlan | None = None


@query.handler(
    "query",
    # Any content type: the body is parsed as JSON whatever curl's default says it is.
    accept="*/*",
    input_serde=BytesSerde(),
    output_serde=BytesSerde(),
    # How long an idempotency key keeps answering with its result: re-attach within a day.
    idempotency_retention=RETENTION,
)
async def run_query(ctx: restate.Context, body: bytes) -> bytes:
    request = parse_request(body)
    # One step: the settings and the callback_url's verdict (DNS answers change) journaled
    # together, so a replay reaches the same ones.
    plan = await ctx.run_typed("check and plan", check_and_plan, RunOptions(), request)
    invocation_id = ctx.request().id
    start = PromiseStart(request=request, invocation_id=invocation_id, plan=plan).model_dump_json()
    # The promise is keyed by this invocation: a caller's key resolves to it (see README).
    call = ctx.generic_call("promise", "run", start.encode(), key=invocation_id)
    try:
        return await call
    except TerminalError as error:
        if not is_cancellation(error):
            raise
    # Restate's own cancel reached this invocation: end the promise as a cancel by key does,
    # then answer with its result like any other ending.
    reason = CancelRequest(reason=RESTATE_CANCEL).model_dump_json().encode()
    ctx.generic_send("promise", "cancel", reason, key=invocation_id)
    return await ctx.attach_invocation(await call.invocation_id(), serde=BytesSerde())


@promise.main(output_serde=QueryResultSerde(), workflow_retention=RETENTION)
async def run(ctx: restate.WorkflowContext, start: PromiseStart) -> QueryResult:
    request = start.request
    plan = start.plan
    if plan is None:  # sent by the front of an older deployment
        plan = await ctx.run_typed("plan", plan_query, RunOptions(), request)
    record = PromiseRecord(
        invocation_id=start.invocation_id,
        query=request.query,
        submitted_at=plan.submitted_at,
        webhook_id=webhook_id_for(start.invocation_id) if request.callback_url else None,
    )
    ctx.set("record", record)
    outcome = await settle(ctx, start, plan, record)

    ending, status, rows, _ = outcome
    ended = ended_at(ending, status, rows) or await now(ctx)
    result = query_result(start.invocation_id, request, plan.timeout_s, *outcome, ended)
    record.phase, record.state, record.error = "done", result.state, result.error
    record.rows_fetched = result.row_count
    record.ended_at = ended
    ctx.set("record", record)
    if request.callback_url and record.webhook_id:
        # Pushed before it is returned: the first attempt is a step here, not an invocation.
        body = encode_result(result).decode()
        url, policy = request.callback_url, plan.delivery
        record.delivery = await push_result(ctx, record.webhook_id, url, body, policy, ended)
        if record.delivery is not None:
            ctx.set("record", record)
    return result


Outcome = tuple[Ending, ExecutionStatus | None, Rows, str | None]


async def settle(
    ctx: restate.WorkflowContext, start: PromiseStart, plan: QueryPlan, record: PromiseRecord
) -> Outcome:
    """Start the query, wait for its ending, and read the rows if there are any: how it
    ended, what Athena last said, the rows, and the execution id."""
    request = start.request
    try:
        # The token comes from the invocation, so a retried start runs nothing new on Athena.
        token = client_request_token(start.invocation_id)
        begin = terminal_on_rejection(athena().start)
        execution_id = await ctx.run_typed(
            "start query", begin, athena_retry(), request.query, token
        )
    except TerminalError as error:
        # Athena refused to start it, or stayed unreachable: nothing runs, nothing to stop.
        failed = Ending(kind="failed", detail=f"Athena did not start the query: {error.message}")
        return failed, None, Rows(), None
    record.phase, record.query_execution_id, record.athena_state = "queued", execution_id, "QUEUED"
    record.state_keeper = state_keeper(plan.completion, execution_id)
    ctx.set("record", record)

    ending, described = await wait_for_ending(ctx, plan, execution_id)
    status = described.status if described else None
    if ending.kind != "finished":
        # Past the deadline, cancelled, or failing: stop the query so it stops costing money.
        status = await stop_query(ctx, execution_id)
        record.cancel_reason = ending.detail if ending.kind == "cancelled" else None
    rows = Rows()
    if status is not None and status.state == "SUCCEEDED":
        record.phase, record.athena_state = "fetching", status.state
        first_page = described.first_page if described else None
        if first_page is None or first_page.next_token:
            ctx.set("record", record)  # pages to read: status and cancel see "fetching"
        try:
            rows = await read_rows(ctx, status, plan, record, first_page)
            ending = Ending(kind="finished") if ending.kind == "failed" else ending
        except TerminalError as error:
            ending = Ending(kind="failed", detail=f"reading the results failed: {error.message}")
    return ending, status, rows, execution_id


async def wait_for_ending(
    ctx: restate.WorkflowContext, plan: QueryPlan, execution_id: str
) -> tuple[Ending, Described | None]:
    """Park until Athena finishes, the deadline passes, or a cancel comes; Athena's word wins."""
    # The mailbox resolves the awakeable, with news from an event or from the sweeper.
    awakeable_id, finished = ctx.awakeable(type_hint=str)
    safety_net = watch_for_completion(ctx, plan.completion, execution_id, awakeable_id)
    deadline = ctx.sleep(timedelta(seconds=plan.timeout_s), name="query deadline")
    cancelled = ctx.promise(CANCEL, type_hint=str).value()
    mailbox_clear = plan.completion.mode == "poll"  # the sweeper alone, no mailbox
    try:
        while True:
            waits: dict[str, restate.RestateDurableFuture[Any]] = {
                "finished": finished,
                "deadline": deadline,
                "cancelled": cancelled,
            }
            if safety_net is not None:
                waits["safety_net"] = safety_net
            winner, value = await restate.select(**waits)
            if winner == "safety_net":
                safety_net = None
                start_safety_net(ctx, plan.completion, execution_id)
                continue
            if winner == "deadline":
                return Ending(kind="deadline"), None
            if winner == "cancelled":
                return Ending(kind="cancelled", detail=str(value)), None
            described = await ask_athena(ctx, plan, execution_id, str(value))
            if described.status.is_final:
                mailbox_clear = True  # it clears itself once it has resolved the awakeable
                return Ending(kind="finished"), described
            # An event is a hint and Athena the truth: after a premature or forged one, only
            # the sweeper's checks count, so forged events cannot make this loop again.
            awakeable_id, finished = ctx.awakeable(type_hint=str)
            safety_net = None  # the sweeper checks it briskly from now on
            distrust_events(ctx, plan.completion, execution_id, awakeable_id)
            mailbox_clear = False
    except TerminalError as error:
        if is_cancellation(error):
            return Ending(kind="cancelled", detail=RESTATE_CANCEL), None
        return Ending(kind="failed", detail=error.message), None
    finally:
        stop_watching(ctx, execution_id, mailbox_clear)


async def ask_athena(
    ctx: restate.WorkflowContext, plan: QueryPlan, execution_id: str, news: str
) -> Described:
    """Athena's own word, after news of the end (the state the mailbox heard: a hint). When
    the news is SUCCEEDED, the common case, the first page is read beside the status."""
    if news == "SUCCEEDED":
        read = terminal_on_rejection(athena().describe_with_first_page)
        page_size = first_page_size(plan.max_rows)
        return await ctx.run_typed(
            "describe query and first page", read, athena_retry(), execution_id, page_size
        )
    describe = terminal_on_rejection(athena().describe)
    status = await ctx.run_typed("describe query", describe, athena_retry(), execution_id)
    return Described(status=status)


async def stop_query(ctx: restate.WorkflowContext, execution_id: str) -> ExecutionStatus | None:
    """Stop the query and ask Athena how it ended; None if Athena cannot be reached in time."""
    stop = terminal_on_rejection(athena().stop)
    describe = terminal_on_rejection(athena().describe)
    try:
        await ctx.run_typed("stop query", stop, athena_retry(STOP_WINDOW_S), execution_id)
        # Athena may have finished before the stop landed: then its result stands.
        return await ctx.run_typed(
            "describe query", describe, athena_retry(STOP_WINDOW_S), execution_id
        )
    except TerminalError:
        return None


async def read_rows(
    ctx: restate.WorkflowContext,
    status: ExecutionStatus,
    plan: QueryPlan,
    record: PromiseRecord,
    first_page: ResultPage | None,
) -> Rows:
    def progress(rows_so_far: int) -> None:
        record.rows_fetched = rows_so_far
        ctx.set("record", record)

    try:
        return await fetch_rows(ctx, status, plan.max_rows, progress, first_page)
    except TerminalError as error:
        if not is_cancellation(error):
            raise
    # Athena had finished when this cancel came: the result is there and stands.
    return await fetch_rows(ctx, status, plan.max_rows, progress, first_page)


async def now(ctx: restate.Context) -> datetime:
    """The journaled wall clock: a replay sees the same moment."""
    return datetime.fromtimestamp(await ctx.time(), tz=UTC)
