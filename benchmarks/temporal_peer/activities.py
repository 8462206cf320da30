"""The activities: Athena through boto3, and the signed webhook through aiohttp.

A class holding its clients, as `hello_activity_method` does: the worker builds one boto3
client and one HTTP session and every activity shares them. boto3 blocks, so its calls run
in the worker's thread pool (`asyncio.to_thread`); the activities themselves are async.
"""

import asyncio
import time
import uuid
from typing import Any

import aiohttp
from temporalio import activity
from temporalio.exceptions import ApplicationError

from benchmarks.temporal_peer.results import cells_of, columns_of, query_result
from benchmarks.temporal_peer.shared import Delivery, QueryInput, QueryResult, ReadInput
from service.models import webhook_id_for
from webhooks.signature import sign

PAGE_LIMIT = 1000
# Standard Webhooks: these answers may heal, every other 4xx will not.
RETRYABLE_4XX = {408, 409, 425, 429}
# A fixed namespace: the same workflow id always gives the same ClientRequestToken.
_TOKEN_NAMESPACE = uuid.UUID("6b1c5e0e-3f0a-4c61-9a55-6f1d2f3b2c10")


class AthenaActivities:
    def __init__(self, athena: Any, session: aiohttp.ClientSession, webhook_secret: str) -> None:
        self.athena = athena
        self.session = session
        self.webhook_secret = webhook_secret

    @activity.defn
    async def start_query(self, request: QueryInput) -> str:
        """Athena's execution id. The token is the workflow's, so a retried activity (or a
        second run of the same workflow id) gets the same execution, never a second query."""
        token = str(uuid.uuid5(_TOKEN_NAMESPACE, _workflow_id()))
        started = await asyncio.to_thread(
            self.athena.start_query_execution,
            QueryString=request.query,
            ClientRequestToken=token,
            QueryExecutionContext={"Database": "demo_db"},
            WorkGroup="primary",
        )
        return str(started["QueryExecutionId"])

    @activity.defn
    async def get_query_state(self, query_execution_id: str) -> str:
        """One status check: the polling fallback when no event has arrived."""
        execution = await asyncio.to_thread(
            self.athena.get_query_execution, QueryExecutionId=query_execution_id
        )
        return str(execution["QueryExecution"]["Status"]["State"])

    @activity.defn
    async def read_result(self, request: ReadInput) -> QueryResult:
        """The status (for the statistics) and the rows, the first page asked beside it."""
        qid = request.query_execution_id
        execution, first_page = await asyncio.gather(
            asyncio.to_thread(self.athena.get_query_execution, QueryExecutionId=qid),
            self._page(qid, None, min(PAGE_LIMIT, request.max_rows + 2)),
        )
        execution = execution["QueryExecution"]
        columns, cells, page = columns_of(first_page), [], first_page
        while execution["Status"]["State"] == "SUCCEEDED" and page:
            cells.extend(cells_of(page, columns, first=page is first_page))
            token = page.get("NextToken")
            if len(cells) > request.max_rows or not token:
                break
            page = await self._page(qid, token, min(PAGE_LIMIT, request.max_rows + 1 - len(cells)))
        return query_result(_workflow_id(), request, execution, columns, cells)

    @activity.defn
    async def deliver_webhook(self, delivery: Delivery) -> None:
        """One signed POST; a failure raises, and the activity's retry policy retries it."""
        body = delivery.result.model_dump_json().encode()
        webhook_id = webhook_id_for(delivery.result.invocation_id)
        timestamp = int(time.time())
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.webhook_secret, webhook_id, timestamp, body),
            "content-type": "application/json",
        }
        post = self.session.post(
            delivery.callback_url, data=body, headers=headers, allow_redirects=False
        )
        async with post as response:
            if 200 <= response.status < 300:
                return
            permanent = 400 <= response.status < 500 and response.status not in RETRYABLE_4XX
            raise ApplicationError(f"HTTP {response.status}", non_retryable=permanent)

    async def _page(self, qid: str, token: str | None, size: int) -> dict[str, Any]:
        params: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": size}
        if token:
            params["NextToken"] = token
        try:
            return dict(await asyncio.to_thread(self.athena.get_query_results, **params))
        except self.athena.exceptions.InvalidRequestException:
            return {}  # a query that did not succeed has no rows to read


def _workflow_id() -> str:
    """The id of the workflow that runs this activity (these are never standalone)."""
    workflow_id = activity.info().workflow_id
    if workflow_id is None:
        raise ApplicationError("Run inside AthenaQueryWorkflow only.", non_retryable=True)
    return workflow_id
