"""The client library against the real stack, sync and async: submit and wait, attach after
the client gave up, status, cancel, redeliver, and each error a caller can meet."""

import asyncio
import uuid
from functools import partial
from typing import Any

import pytest
import requests

from infra.local.processes import free_port
from infra.local.stack import LocalStack
from poller import (
    AsyncClient,
    BadRequest,
    Client,
    GaveUp,
    IngressUnreachable,
    QueryRequest,
    UnknownKey,
)
from service.models import DEMO_QUERY
from tests.stack_support import tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def pushed(stack: LocalStack, webhook_id: str) -> bytes | None:
    response = requests.get(f"{stack.listener_url}/deliveries/{webhook_id}", timeout=10)
    return response.json()["body"].encode() if response.status_code == 200 else None


def phase_of(client: Client, key: str) -> bool:
    """Whether the promise runs; the promise's first step may not have been journaled yet."""
    try:
        return client.status(key).phase == "running"
    except UnknownKey:
        return False


def key(what: str) -> str:
    return f"client-{what}-{uuid.uuid4()}"


def test_the_sync_client_end_to_end(stack: LocalStack) -> None:
    client = Client(stack.ingress_url, admin_url=stack.admin_url, timeout_s=10)
    callback = f"{stack.listener_url}/callback"

    # Submit and wait: the typed result, and the very bytes the webhook carried.
    first = key("query")
    result = client.query(QueryRequest(query=tagged(DEMO_QUERY), callback_url=callback), key=first)
    assert (result.state, result.rows, result.columns[0].type) == ("SUCCEEDED", [[42.0]], "double")
    webhook_id = f"msg_{result.invocation_id}"
    assert wait_until(partial(pushed, stack, webhook_id), 30, "the push") == result.received
    assert client.query(QueryRequest(query="ignored: the key is known"), key=first).received == (
        result.received
    )
    assert client.redeliver(first).outcome == "redelivering"

    # The client's wait runs out; the query does not: attach later, by key.
    slow = key("slow")
    impatient = Client(stack.ingress_url, timeout_s=0.5, max_wait_s=1.5)
    with pytest.raises(GaveUp) as gave_up:
        impatient.query(tagged("SELECT 7 AS seven", "run_time_s=4"), key=slow)
    assert gave_up.value.key == slow and gave_up.value.exit_code == 8
    status = client.status(slow)
    assert status.phase in ("accepted", "queued", "running") and status.state is None
    attached = client.attach(slow)
    assert (attached.state, attached.rows) == ("SUCCEEDED", [[7]])
    assert client.status(slow).phase == "done"

    # Cancel by key: the answer now, the CANCELLED result by attach.
    doomed = key("cancel")
    submitted = client.submit(tagged("SELECT 1", "run_time_s=60"), key=doomed)
    assert submitted.invocation_id.startswith("inv_") and submitted.status == "Accepted"
    wait_until(partial(phase_of, client, doomed), 30, "the query to run")
    assert client.cancel(doomed, "not needed").outcome == "cancelling"
    cancelled = client.attach(doomed)
    assert cancelled.state == "CANCELLED" and "not needed" in (cancelled.error or "")

    # The errors a caller meets, typed.
    with pytest.raises(BadRequest, match="max_rows") as refused:
        client.query(QueryRequest(max_rows=-1), key=key("bad"))
    assert refused.value.status == 400
    with pytest.raises(UnknownKey):
        client.attach(key("unknown"))
    with pytest.raises(UnknownKey):
        client.status(key("unknown"))
    nowhere = Client(f"http://127.0.0.1:{free_port()}", max_connect_failures=2)
    with pytest.raises(IngressUnreachable):
        nowhere.attach(first)


async def test_the_async_client_end_to_end(stack: LocalStack) -> None:
    async with AsyncClient(stack.ingress_url, timeout_s=10) as client:
        first = key("async-query")
        result = await client.query(tagged(DEMO_QUERY), key=first)
        assert (result.state, result.rows) == ("SUCCEEDED", [[42.0]])
        again = await client.attach(first)
        assert again.received == result.received

        slow = key("async-slow")
        async with AsyncClient(stack.ingress_url, timeout_s=0.5, max_wait_s=1.5) as impatient:
            with pytest.raises(GaveUp):
                await impatient.query(tagged("SELECT 8 AS eight", "run_time_s=4"), key=slow)
        assert (await client.status(slow)).state is None
        assert (await client.attach(slow)).rows == [[8]]

        doomed = key("async-cancel")
        await client.submit(tagged("SELECT 1", "run_time_s=60"), key=doomed)
        phases: list[Any] = []
        for _ in range(300):
            try:
                phases.append((await client.status(doomed)).phase)
            except UnknownKey:  # not journaled yet
                phases.append(None)
            if phases[-1] == "running":
                break
            await asyncio.sleep(0.1)
        assert phases[-1] == "running"
        assert (await client.cancel(doomed)).outcome == "cancelling"
        assert (await client.attach(doomed)).state == "CANCELLED"

        with pytest.raises(BadRequest, match="timeout_s"):
            await client.query(QueryRequest(timeout_s=-1), key=key("async-bad"))
        with pytest.raises(UnknownKey):
            await client.status(key("async-unknown"))
    async with AsyncClient(f"http://127.0.0.1:{free_port()}", max_connect_failures=2) as nowhere:
        with pytest.raises(IngressUnreachable):
            await nowhere.attach(first)
