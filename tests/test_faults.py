"""Crashes and misbehaving receivers: the promise still completes, once, and is pushed once.

These tests kill real processes (SIGKILL) and restart them on the same state, so they get a
stack of their own, with short retry intervals so recovery shows within seconds.
"""

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer

from infra.local.stack import LocalStack
from service.models import DEMO_QUERY, webhook_id_for
from tests.stack_support import (
    attach,
    attach_direct,
    configure_athena,
    deliveries,
    delivery_status,
    executions_of,
    extra_listener,
    run_poller,
    running_execution,
    running_stack,
    send,
    send_direct,
    tagged,
    wait_until,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

FAST_RETRIES = {
    # An Athena that stays unreachable ends the promise FAILED after 4 s, not 10 minutes.
    "ATHENA_RETRY_WINDOW_S": "4",
    "WEBHOOK_FIRST_BACKOFF_S": "0.2",
    "WEBHOOK_MAX_BACKOFF_S": "1",
    "SAFETY_NET_INTERVAL_S": "2",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("faults"), service_env=FAST_RETRIES) as local:
        yield local


@pytest.mark.parametrize("entry", ["front", "direct"])
@pytest.mark.parametrize("component", ["service", "restate"])
def test_a_crash_mid_query_still_completes_the_promise_once(
    stack: LocalStack, component: str, entry: str
) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=4"), str(uuid.uuid4())
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    # Through `query/query` with an idempotency key, or as the workflow `queries/{key}`.
    direct = entry == "direct"
    assert (send_direct(stack, body, key) if direct else send(stack, body, key)).ok
    running_execution(stack, sql)
    stack.restart(component, kill=True)

    response = attach_direct(stack, key, 90) if direct else attach(stack, key, timeout=90)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["state"] == "SUCCEEDED" and result["rows"] == [[42.0]]
    (execution,) = executions_of(stack, sql).values()
    assert execution["calls"]["StartQueryExecution"] == 1
    webhook_id = webhook_id_for(result["invocation_id"], key if direct else None)
    pushed = wait_until(
        lambda: [d for d in deliveries(stack.listener_url) if d["webhook_id"] == webhook_id],
        60,
        "the pushed result",
    )
    assert len(pushed) == 1 and pushed[0]["body"].encode() == response.content


def delivered(stack: LocalStack, webhook_id: str, state: str = "delivered") -> Any:
    return wait_until(
        lambda: (
            (status := delivery_status(stack, webhook_id)) and status["state"] == state and status
        ),
        60,
        f"delivery {webhook_id} to be {state}",
    )


def push(stack: LocalStack, callback_url: str) -> str:
    """Submit without waiting: a pulled answer comes after the first POST, which some of the
    receivers here hold back."""
    body = {"query": tagged(DEMO_QUERY, "run_time_s=0.2"), "callback_url": callback_url}
    response = send(stack, body, str(uuid.uuid4()))
    assert response.ok, response.text
    return f"msg_{response.json()['invocationId']}"


def test_listener_down_at_first_then_started(stack: LocalStack, tmp_path: Path) -> None:
    listener, url = extra_listener(stack, tmp_path)
    webhook_id = push(stack, f"{url}/callback")
    wait_until(
        lambda: (delivery_status(stack, webhook_id) or {}).get("attempts", 0) >= 2,
        30,
        "a few refused attempts",
    )
    listener.start()
    try:
        status = delivered(stack, webhook_id)
        assert status["attempts"] >= 3
        assert [d["webhook_id"] for d in deliveries(url)] == [webhook_id]
    finally:
        listener.stop()


def test_listener_answers_500_twice_then_200(stack: LocalStack, tmp_path: Path) -> None:
    listener, url = extra_listener(stack, tmp_path, "--fail-first", "2", "--fail-status", "500")
    listener.start()
    try:
        webhook_id = push(stack, f"{url}/callback")
        status = delivered(stack, webhook_id)
        assert status["attempts"] == 3 and status["last_status"] == 200
        assert [d["webhook_id"] for d in deliveries(url)] == [webhook_id]
        stats = requests.get(f"{url}/deliveries/_stats", timeout=10).json()
        assert stats["by_status"] == {"500": 2, "200": 1}
    finally:
        listener.stop()


def test_a_gone_receiver_is_given_up_on_and_recorded(stack: LocalStack, tmp_path: Path) -> None:
    """410 Gone is the one answer that stops the retries at once (Standard Webhooks)."""
    listener, url = extra_listener(stack, tmp_path, "--fail-always", "--fail-status", "410")
    listener.start()
    try:
        webhook_id = push(stack, f"{url}/callback")
        status = delivered(stack, webhook_id, state="gave_up")
        assert status["attempts"] == 1 and status["last_status"] == 410
        assert deliveries(url) == []
    finally:
        listener.stop()


@pytest.mark.parametrize("status_code", [400, 401, 404])
def test_a_receiver_refusing_for_a_while_gets_the_result_later(
    stack: LocalStack, tmp_path: Path, status_code: int
) -> None:
    """A receiver mid-deploy or mid-rotation answers 4xx for a while: retried, not lost."""
    args = ("--fail-first", "2", "--fail-status", str(status_code))
    listener, url = extra_listener(stack, tmp_path, *args)
    listener.start()
    try:
        webhook_id = push(stack, f"{url}/callback")
        status = delivered(stack, webhook_id)
        assert status["attempts"] == 3 and status["last_status"] == 200
        assert [d["webhook_id"] for d in deliveries(url)] == [webhook_id]
    finally:
        listener.stop()


async def test_service_killed_between_the_post_and_its_journal_entry(
    stack: LocalStack, aiohttp_server: ServerFactory
) -> None:
    """The receiver sees the same webhook-id twice and stores it once."""
    forwarded = asyncio.Event()
    release = asyncio.Event()
    target = f"{stack.listener_url}/callback"

    # A slow hop in front of the real listener: it forwards the first POST (so the listener
    # stores it), then holds the answer back while the test kills the service.
    async def slow_hop(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("webhook-")}
        headers["content-type"] = "application/json"
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, data=body, headers=headers) as answer,
        ):
            status, text = answer.status, await answer.text()
        if not forwarded.is_set():
            forwarded.set()
            await release.wait()
        return web.Response(status=status, text=text, content_type="application/json")

    app = web.Application()
    app.router.add_post("/callback", slow_hop)
    hop = await aiohttp_server(app)
    # The stack's calls block: they run in threads while the hop serves on this loop.
    webhook_id = await asyncio.to_thread(push, stack, str(hop.make_url("/callback")))
    await asyncio.wait_for(forwarded.wait(), 30)
    await asyncio.to_thread(stack.restart, "service", kill=True)
    release.set()
    status = await asyncio.to_thread(delivered, stack, webhook_id)
    stored = [d for d in deliveries(stack.listener_url) if d["webhook_id"] == webhook_id]
    assert len(stored) == 1
    assert stored[0]["attempts"] == 2  # the same webhook-id arrived twice
    assert status["attempts"] == 1  # ... but the journal recorded one attempt


async def test_a_post_resent_after_an_outage_is_signed_afresh(
    stack: LocalStack, tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    """The retried POST carries a new webhook-timestamp, so a receiver's tolerance still holds."""
    listener, url = extra_listener(stack, tmp_path, "--tolerance-s", "2")
    held, release = asyncio.Event(), asyncio.Event()

    # Hold the first POST (never forwarded) while the service is killed and stays down for
    # longer than the listener's 2 s tolerance; forward the retry.
    async def hold_first(request: web.Request) -> web.Response:
        body = await request.read()
        if not held.is_set():
            held.set()
            await release.wait()
            return web.Response(status=503)
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("webhook-")}
        headers["content-type"] = "application/json"
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/callback", data=body, headers=headers) as answer,
        ):
            return web.Response(status=answer.status, text=await answer.text())

    app = web.Application()
    app.router.add_post("/callback", hold_first)
    hop = await aiohttp_server(app)
    await asyncio.to_thread(listener.start)
    try:
        webhook_id = await asyncio.to_thread(push, stack, str(hop.make_url("/callback")))
        await asyncio.wait_for(held.wait(), 30)
        service = stack.processes["service"]
        await asyncio.to_thread(service.kill)
        await asyncio.sleep(3)
        release.set()
        await asyncio.to_thread(service.start)
        status = await asyncio.to_thread(delivered, stack, webhook_id)
        assert status["last_status"] == 200
        assert [d["webhook_id"] for d in deliveries(url)] == [webhook_id]
    finally:
        await asyncio.to_thread(listener.stop)


def test_retry_after_is_honoured(stack: LocalStack, tmp_path: Path) -> None:
    # Backoff here is at most 1 s; only the receiver's Retry-After can make the sender wait 3 s.
    args = ("--fail-first", "1", "--fail-status", "429", "--fail-retry-after", "3")
    listener, url = extra_listener(stack, tmp_path, *args)
    listener.start()
    try:
        webhook_id = push(stack, f"{url}/callback")
        first_attempt_done = time.monotonic()
        status = delivered(stack, webhook_id)
        assert time.monotonic() - first_attempt_done >= 2.5
        assert status["attempts"] == 2
    finally:
        listener.stop()


def test_delivery_gives_up_when_the_retry_window_closes(stack: LocalStack, tmp_path: Path) -> None:
    listener, url = extra_listener(stack, tmp_path, "--fail-always", "--fail-status", "503")
    service = stack.processes["service"]
    service.env["WEBHOOK_RETRY_WINDOW_S"] = "2"
    stack.restart("service", kill=False)
    listener.start()
    try:
        webhook_id = push(stack, f"{url}/callback")
        status = delivered(stack, webhook_id, state="gave_up")
        assert status["attempts"] >= 2 and status["last_status"] == 503
    finally:
        listener.stop()
        del service.env["WEBHOOK_RETRY_WINDOW_S"]
        stack.restart("service", kill=False)


def test_the_long_polling_client_rides_out_a_restate_restart(stack: LocalStack) -> None:
    sql, key = tagged(DEMO_QUERY, "run_time_s=5"), str(uuid.uuid4())
    assert send(stack, {"query": sql}, key).ok
    args = ["--key", key, "--timeout", "0.5", "--max-connect-failures", "30"]
    poller = subprocess.Popen(
        [sys.executable, "-m", "poller", "--ingress", stack.ingress_url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running_execution(stack, sql)
    stack.restart("restate", kill=True)
    out, err = poller.communicate(timeout=120)
    assert poller.returncode == 0, err
    assert json.loads(out)["rows"] == [[42.0]]
    assert "failed" in err  # it did have to retry
    assert len(executions_of(stack, sql)) == 1


def test_service_killed_right_after_a_cancel(stack: LocalStack) -> None:
    """The query is stopped, one CANCELLED webhook arrives, and pull equals push."""
    sql, key = tagged(DEMO_QUERY, "queue_delay_s=0.1 run_time_s=60"), str(uuid.uuid4())
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    invocation_id = send(stack, body, key).json()["invocationId"]
    running_execution(stack, sql)
    cancel = requests.post(
        f"{stack.ingress_url}/promise/{invocation_id}/cancel", json={"reason": "test"}, timeout=10
    )
    assert cancel.status_code == 200 and cancel.json()["outcome"] == "cancelling", cancel.text
    stack.restart("service", kill=True)

    pulled = run_poller(stack, "--key", key)
    assert pulled.returncode == 4, pulled.stderr
    result = json.loads(pulled.stdout)
    assert result["state"] == "CANCELLED" and "test" in result["error"]
    pushed = stack.wait_for_delivery(f"msg_{invocation_id}")
    assert pushed["body"] == pulled.stdout.rstrip("\n")
    assert [d["webhook_id"] for d in deliveries(stack.listener_url)].count(
        f"msg_{invocation_id}"
    ) == 1
    (execution,) = executions_of(stack, sql).values()
    assert execution["state"] == "CANCELLED"


def test_athena_unreachable_past_the_retry_window_ends_failed_on_both_paths(
    stack: LocalStack,
) -> None:
    """A step that fails for good after the start is a FAILED result, pushed like any other."""
    sql, key = tagged(DEMO_QUERY, "run_time_s=2"), str(uuid.uuid4())
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    invocation_id = send(stack, body, key).json()["invocationId"]
    running_execution(stack, sql)
    # From now on every Athena call is throttled: the completion event still arrives, but
    # the promise cannot read the query's end (ATHENA_RETRY_WINDOW_S is 4 s here).
    configure_athena(stack, throttle_rate=1.0)
    try:
        response = attach(stack, key, timeout=120)
    finally:
        configure_athena(stack, throttle_rate=0.0)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["state"] == "FAILED" and "could not go on" in result["error"]
    pushed = stack.wait_for_delivery(f"msg_{invocation_id}")
    assert pushed["body"].encode() == response.content
    status = run_poller(stack, "status", "--key", key)
    assert json.loads(status.stdout)["phase"] == "done"
