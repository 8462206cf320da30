"""The promise as a Temporal workflow: start the query, wait for the news, read, push.

It waits the way Temporal's samples wait for an outside system: a signal (Athena's state
change event, turned into one by `events.py`) met by `workflow.wait_condition`, with a
timeout after which a polling activity asks Athena itself, as the safety net for a lost
event (the Restate promise's default, `both`, checks every 30 s too).
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from benchmarks.temporal_peer import QUERY_EXECUTION_ID
    from benchmarks.temporal_peer.activities import AthenaActivities
    from benchmarks.temporal_peer.shared import (
        FINAL_STATES,
        Delivery,
        QueryInput,
        QueryResult,
        ReadInput,
    )

EXECUTION_ID = SearchAttributeKey.for_keyword(QUERY_EXECUTION_ID)
SAFETY_NET = timedelta(seconds=30)
ATHENA_CALL = timedelta(seconds=30)
# Standard Webhooks' retries: capped exponential backoff over a day.
WEBHOOK_RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10)
)


@workflow.defn
class AthenaQueryWorkflow:
    def __init__(self) -> None:
        self._final_state: str | None = None

    @workflow.run
    async def run(self, request: QueryInput) -> QueryResult:
        qid = await workflow.execute_activity_method(
            AthenaActivities.start_query, request, start_to_close_timeout=ATHENA_CALL
        )
        # Indexed, so the events bridge can find this workflow by Athena's id.
        workflow.upsert_search_attributes([EXECUTION_ID.value_set(qid)])
        await self._await_completion(qid)
        result = await workflow.execute_activity_method(
            AthenaActivities.read_result,
            ReadInput(query_execution_id=qid, query=request.query, max_rows=request.max_rows),
            start_to_close_timeout=ATHENA_CALL,
        )
        if request.callback_url:
            await workflow.execute_activity_method(
                AthenaActivities.deliver_webhook,
                Delivery(callback_url=request.callback_url, result=result),
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=WEBHOOK_RETRIES,
            )
        return result

    @workflow.signal
    def query_state_changed(self, state: str) -> None:
        """Athena's news: only a final state ends the wait."""
        if state in FINAL_STATES:
            self._final_state = state

    async def _await_completion(self, qid: str) -> None:
        while True:
            try:
                await workflow.wait_condition(
                    lambda: self._final_state is not None, timeout=SAFETY_NET
                )
                return
            except TimeoutError:
                # No news for a while: ask Athena, in case the event was lost.
                state = await workflow.execute_activity_method(
                    AthenaActivities.get_query_state, qid, start_to_close_timeout=ATHENA_CALL
                )
                if state in FINAL_STATES:
                    return
