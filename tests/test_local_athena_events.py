"""State-change events are retried the way EventBridge retries them, and never block a stop."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from infra.local.athena.config import LocalAthenaConfig
from infra.local.athena.delivery import EventDelivery, backoff_s

from .local_athena_support import REPO_ROOT, free_port, running_local_athena

DEMO_QUERY = 'SELECT sum("table"."value") AS answer FROM "demo_db"."table"'


def event(state: str = "SUCCEEDED") -> dict[str, Any]:
    detail = {"currentState": state, "queryExecutionId": "q-1"}
    return {"id": "e-1", "detail": detail}


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    waits = [backoff_s(attempt, cap_s=5.0) for attempt in range(1, 12)]
    assert 0.05 <= waits[0] <= 0.1
    assert all(wait <= 5.0 for wait in waits)
    assert waits[-1] >= 2.5  # capped, with jitter of at most half
    assert backoff_s(10_000, cap_s=60.0) <= 60.0  # no overflow after a day of attempts


async def serve(handler: Any) -> TestServer:
    app = web.Application()
    app.router.add_post("/events", handler)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_a_closed_retry_window_lists_the_event_as_given_up() -> None:
    calls = 0

    async def always_503(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503)

    server = await serve(always_503)
    config = LocalAthenaConfig(events_retry_window_s=0.5, events_max_backoff_s=0.1)
    try:
        async with aiohttp.ClientSession() as session:
            delivery = EventDelivery(config, session)
            started = time.monotonic()
            await delivery.send(str(server.make_url("/events")), event())
            assert time.monotonic() - started < 1.5
    finally:
        await server.close()
    assert calls >= 4
    (given_up,) = delivery.given_up
    assert given_up["queryExecutionId"] == "q-1"
    assert given_up["currentState"] == "SUCCEEDED"
    assert (given_up["attempts"], given_up["lastError"]) == (calls, "HTTP 503")


async def test_a_refusal_is_not_retried() -> None:
    calls = 0

    async def bad_request(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=400)

    server = await serve(bad_request)
    try:
        async with aiohttp.ClientSession() as session:
            delivery = EventDelivery(LocalAthenaConfig(), session)
            await delivery.send(str(server.make_url("/events")), event())
    finally:
        await server.close()
    assert calls == 1
    assert [e["lastError"] for e in delivery.given_up] == ["HTTP 400"]


@pytest.mark.e2e
async def test_events_outlast_a_receiver_that_is_down_for_a_while() -> None:
    """The old sender gave up after about 1.3 s; EventBridge would keep trying for a day."""
    port = free_port()
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    url = f"http://127.0.0.1:{port}/events"
    flags: tuple[str, ...] = (
        "--queue-delay",
        "0",
        "--run-time",
        "0",
        "--events-max-backoff",
        "0.5",
    )
    flags = (*flags, "--events-url", url)
    with running_local_athena(REPO_ROOT / "data", *flags) as athena:
        client = athena.client()
        execution_id = await asyncio.to_thread(
            lambda: client.start_query_execution(QueryString=DEMO_QUERY)["QueryExecutionId"]
        )
        await asyncio.sleep(2.5)  # the receiver is down all this while
        app = web.Application()
        app.router.add_post("/events", receive)
        server = TestServer(app, port=port)
        await server.start_server()
        try:
            deadline = time.monotonic() + 10
            while len(received) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await server.close()
        stats = await asyncio.to_thread(athena.stats)
    states = [e["detail"]["currentState"] for e in received]
    assert states == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert {e["detail"]["queryExecutionId"] for e in received} == {execution_id}
    assert stats["events_given_up"] == []


@pytest.mark.e2e
def test_given_up_events_show_in_stats_and_pending_retries_do_not_delay_a_stop() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/events"
    flags = ("--queue-delay", "0", "--run-time", "0", "--events-url", nobody)
    with running_local_athena(REPO_ROOT / "data", *flags) as athena:
        client = athena.client()
        athena.configure(events_retry_window_s=0.3, events_max_backoff_s=0.1)
        first = client.start_query_execution(QueryString=DEMO_QUERY)["QueryExecutionId"]
        deadline = time.monotonic() + 10
        while len(athena.stats()["events_given_up"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        given_up = athena.stats()["events_given_up"]
        assert [(e["queryExecutionId"], e["currentState"]) for e in given_up] == [
            (first, "QUEUED"),
            (first, "RUNNING"),
            (first, "SUCCEEDED"),
        ]
        assert all(e["url"] == nobody and e["attempts"] >= 2 for e in given_up)
        # Now a day-long window: these events keep retrying when the stop comes.
        athena.configure(events_retry_window_s=86400, events_max_backoff_s=60)
        client.start_query_execution(QueryString=DEMO_QUERY)
        time.sleep(1.0)
        started = time.monotonic()
        athena.process.send_signal(signal.SIGTERM)
        athena.process.wait(timeout=10)
        # A generous bound, far below the 60 s backoff a waiting stop would sit out: a busy
        # machine once took 3.3 s to stop the process.
        assert time.monotonic() - started < 15.0
