"""Athena's account quotas and the EventBridge rule's shape, as the local Athena mimics them."""

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from infra.local.athena.config import LocalAthenaConfig
from infra.local.athena.quotas import RateLimits

from .local_athena_support import REPO_ROOT, running_local_athena

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def test_a_quota_admits_a_burst_of_one_seconds_worth_then_refills() -> None:
    limits, config = RateLimits(), LocalAthenaConfig(start_rate_limit=20)
    admitted = [limits.admit("StartQueryExecution", config) for _ in range(30)]
    assert admitted.count(True) == 20 and admitted[-1] is False
    assert limits.admit("GetQueryExecution", config)  # another quota, unlimited here
    time.sleep(0.2)
    assert limits.admit("StartQueryExecution", config)  # 0.2 s refilled about 4 tokens


@pytest.mark.e2e
def test_starts_over_the_quota_are_throttled_like_athena() -> None:
    headers = {
        "X-Amz-Target": "AmazonAthena.StartQueryExecution",
        "Content-Type": "application/x-amz-json-1.1",
    }
    body = json.dumps({"QueryString": "SELECT 1", "WorkGroup": "primary"}).encode()
    with running_local_athena(REPO_ROOT / "data", "--start-rate-limit", "5") as athena:
        # Raw calls: botocore would retry the refusals on its own.
        answers = [athena.post("/", body, headers) for _ in range(12)]
        assert athena.stats()["throttled"]["StartQueryExecution"] == 7
    codes = [status for status, _ in answers]
    assert codes.count(200) == 5
    refused = [answer for status, answer in answers if status != 200]
    assert {answer["__type"] for answer in refused} == {"TooManyRequestsException"}


@pytest.mark.e2e
async def test_events_go_to_the_querys_own_path_and_only_for_chosen_states(
    aiohttp_server: ServerFactory,
) -> None:
    received: list[tuple[str, str]] = []

    async def mailbox(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((request.match_info["query"], body["detail"]["currentState"]))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/completion/{query}/onEvent", mailbox)
    server: TestServer = await aiohttp_server(app)
    url = f"http://127.0.0.1:{server.port}/completion/{{queryExecutionId}}/onEvent"
    flags = ("--events-url", url, "--events-states", "RUNNING,SUCCEEDED", "--run-time", "0.2")
    with running_local_athena(REPO_ROOT / "data", *flags) as athena:
        client = athena.client()
        sql = f"SELECT 1 -- {uuid.uuid4()}"
        qid = client.start_query_execution(QueryString=sql, WorkGroup="primary")["QueryExecutionId"]
        for _ in range(100):
            if "SUCCEEDED" in {state for _, state in received}:
                break
            await asyncio.sleep(0.1)
    assert received == [(qid, "RUNNING"), (qid, "SUCCEEDED")]  # no QUEUED: filtered out
