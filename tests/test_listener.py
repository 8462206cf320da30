"""The listener on real aiohttp: verify, de-duplicate, store, show, and fail on purpose."""

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from listener.app import create_app
from listener.faults import FaultPlan
from listener.settings import ListenerSettings, load_settings
from webhooks.signature import sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROTATED_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQy"

# Spacing, key order and a non-ASCII character: the listener must keep these bytes as they came.
RESULT_BODY = (
    '{"invocation_id": "inv_1", "query_execution_id": "qe-1",  "state": "SUCCEEDED",'
    ' "query": "SELECT sum(\\"table\\".\\"value\\") AS answer FROM \\"demo_db\\".\\"table\\"",'
    ' "columns": [{"name": "answer", "type": "bigint"}], "rows": [[42]], "row_count": 1,'
    ' "truncated": false, "error": null, "note": "café",'
    ' "submitted_at": "2025-01-01T00:00:00Z", "completed_at": "2025-01-01T00:00:01.500Z"}'
).encode()

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


def settings_for(tmp_path: Path, **overrides: Any) -> ListenerSettings:
    values = {"secret": SECRET, "store": tmp_path / "deliveries.sqlite3", **overrides}
    return ListenerSettings.model_validate(values)


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signed_headers(
    body: bytes, webhook_id: str, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    sent_at = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(sent_at),
        "webhook-signature": sign(secret, webhook_id, sent_at, body),
        "content-type": "application/json",
    }


@pytest.fixture
async def client(aiohttp_client: MakeClient, tmp_path: Path) -> Client:
    return await aiohttp_client(create_app(settings_for(tmp_path)))


async def deliver(client: Client, body: bytes = RESULT_BODY, **kwargs: Any) -> Any:
    webhook_id = kwargs.pop("webhook_id", None) or new_webhook_id()
    headers = kwargs.pop("headers", None) or signed_headers(body, webhook_id, **kwargs)
    return await client.post("/callback", data=body, headers=headers)


async def test_new_delivery_is_stored_and_announced(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook_id = new_webhook_id()
    response = await deliver(client, webhook_id=webhook_id)
    assert response.status == 200
    assert await response.json() == {"status": "stored", "webhook_id": webhook_id, "attempts": 1}
    line = capsys.readouterr().out.strip()
    assert line.startswith(f'delivered {webhook_id} SUCCEEDED rows=1 query="SELECT sum(')
    assert line.endswith("s after completion")


async def test_duplicate_is_acknowledged_and_stored_once(client: Client) -> None:
    webhook_id = new_webhook_id()
    first = await deliver(client, webhook_id=webhook_id)
    second = await deliver(client, webhook_id=webhook_id)
    assert (first.status, second.status) == (200, 200)
    assert (await second.json())["status"] == "duplicate"
    deliveries = await (await client.get("/deliveries")).json()
    assert [(d["webhook_id"], d["attempts"]) for d in deliveries] == [(webhook_id, 2)]
    # Counted once among the webhook-ids stored, whatever the attempts.
    assert (await (await client.get("/deliveries/_stats")).json())["stored"] == 1


async def test_deliveries_show_the_exact_body_oldest_first(client: Client) -> None:
    first, second = new_webhook_id(), new_webhook_id()
    await deliver(client, webhook_id=first)
    await deliver(client, b'{"state": "FAILED", "row_count": 0}', webhook_id=second)

    deliveries = await (await client.get("/deliveries")).json()
    assert [d["webhook_id"] for d in deliveries] == [first, second]
    assert deliveries[0]["body"].encode() == RESULT_BODY
    assert deliveries[0]["state"] == "SUCCEEDED"
    assert deliveries[0]["query_execution_id"] == "qe-1"
    assert deliveries[0]["row_count"] == 1
    assert isinstance(deliveries[0]["webhook_timestamp"], int)
    assert deliveries[0]["received_at"]

    one = await client.get(f"/deliveries/{second}")
    assert one.status == 200
    assert (await one.json())["body"] == '{"state": "FAILED", "row_count": 0}'


async def test_unknown_delivery_is_a_json_404(client: Client) -> None:
    response = await client.get("/deliveries/msg_unknown")
    assert response.status == 404
    assert await response.json() == {"error": "no delivery with webhook-id msg_unknown"}


async def test_health(client: Client) -> None:
    assert (await client.get("/health")).status == 200


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"secret": "whsec_" + "QUJD" * 8}, "no matching signature"),
        ({"timestamp": int(time.time()) - 301}, "timestamp too old"),
        ({"timestamp": int(time.time()) + 3600}, "timestamp too new"),
    ],
)
async def test_bad_signatures_get_401_with_a_reason(
    client: Client, tamper: dict[str, Any], reason: str
) -> None:
    response = await deliver(client, **tamper)
    assert response.status == 401
    assert await response.json() == {"error": reason}
    assert await (await client.get("/deliveries")).json() == []


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("webhook-signature", None, "missing webhook-signature header"),
        ("webhook-id", None, "missing webhook-id header"),
        ("webhook-signature", "v1,%%%%", "malformed v1 signature (expected base64 of 32 bytes)"),
        (
            "webhook-signature",
            "v1",
            "malformed webhook-signature entry (expected version,signature)",
        ),
        ("webhook-timestamp", "soon", "malformed webhook-timestamp header (expected unix seconds)"),
    ],
)
async def test_malformed_headers_get_401_with_a_reason(
    client: Client, header: str, value: str | None, reason: str
) -> None:
    headers = signed_headers(RESULT_BODY, new_webhook_id())
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    response = await deliver(client, headers=headers)
    assert response.status == 401
    assert await response.json() == {"error": reason}


async def test_tampered_body_gets_401(client: Client) -> None:
    webhook_id = new_webhook_id()
    headers = signed_headers(RESULT_BODY, webhook_id)
    response = await client.post("/callback", data=RESULT_BODY + b" ", headers=headers)
    assert response.status == 401
    assert await response.json() == {"error": "no matching signature"}


async def test_rotated_secrets_on_both_sides(aiohttp_client: MakeClient, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, secret=f"{ROTATED_SECRET},{SECRET}")
    client = await aiohttp_client(create_app(settings))
    webhook_id = new_webhook_id()
    headers = signed_headers(RESULT_BODY, webhook_id, secret="whsec_" + "QUJD" * 8)
    headers["webhook-signature"] += (
        " " + signed_headers(RESULT_BODY, webhook_id)["webhook-signature"]
    )
    response = await client.post("/callback", data=RESULT_BODY, headers=headers)
    assert response.status == 200


@pytest.mark.parametrize("body", [b"not json", b"[1, 2, 3]", b"{" * 100_000])
async def test_signed_body_that_is_not_a_json_object_gets_400(client: Client, body: bytes) -> None:
    response = await deliver(client, body)
    assert response.status == 400
    assert "error" in await response.json()


async def test_oversized_body_gets_413(aiohttp_client: MakeClient, tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(settings_for(tmp_path, max_body_bytes=1024)))
    big = b'{"pad": "' + b"x" * 2048 + b'"}'
    response = await deliver(client, big)
    assert response.status == 413
    assert await response.json() == {"error": "body larger than 1024 bytes"}


async def test_oversized_chunked_body_gets_413(aiohttp_client: MakeClient, tmp_path: Path) -> None:
    # No Content-Length: the limit has to hold while the body is read.
    client = await aiohttp_client(create_app(settings_for(tmp_path, max_body_bytes=1024)))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 512

    headers = signed_headers(b"", new_webhook_id())
    response = await client.post("/callback", data=chunks(), headers=headers)
    assert response.status == 413


async def test_deliveries_survive_a_restart(aiohttp_client: MakeClient, tmp_path: Path) -> None:
    webhook_id = new_webhook_id()
    before = await aiohttp_client(create_app(settings_for(tmp_path)))
    assert (await deliver(before, webhook_id=webhook_id)).status == 200
    await before.close()

    after = await aiohttp_client(create_app(settings_for(tmp_path)))
    stored = await (await after.get(f"/deliveries/{webhook_id}")).json()
    assert stored["body"].encode() == RESULT_BODY
    # A redelivery after the restart is still recognised as one.
    assert (await (await deliver(after, webhook_id=webhook_id)).json())["attempts"] == 2


async def test_fault_plan_fails_twice_then_stores(
    aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(settings_for(tmp_path), FaultPlan.first(2, 500)))
    webhook_id = new_webhook_id()
    statuses = [(await deliver(client, webhook_id=webhook_id)).status for _ in range(3)]
    assert statuses == [500, 500, 200]
    deliveries = await (await client.get("/deliveries")).json()
    assert [(d["webhook_id"], d["attempts"]) for d in deliveries] == [(webhook_id, 1)]
    stats = await (await client.get("/deliveries/_stats")).json()
    assert stats == {"requests": 3, "by_status": {"200": 1, "500": 2}, "stored": 1}


async def test_fault_plan_can_fail_forever_with_retry_after(
    aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    plan = FaultPlan.forever(410, retry_after_s=7)
    client = await aiohttp_client(create_app(settings_for(tmp_path), plan))
    for _ in range(3):
        response = await deliver(client)
        assert response.status == 410
        assert response.headers["Retry-After"] == "7"
    assert await (await client.get("/deliveries")).json() == []


def test_flags_override_the_environment(tmp_path: Path) -> None:
    environ = {"WEBHOOK_SECRET": SECRET, "LISTENER_PORT": "9100", "LISTENER_STORE": "a.db"}
    settings, faults = load_settings(
        ["--port", "9200", "--fail-first", "2", "--fail-status", "503"], environ
    )
    assert (settings.port, settings.store, settings.secret) == (
        9200,
        Path("a.db"),
        SECRET,
    )
    assert faults is not None
    assert [faults.next_fault(), faults.next_fault(), faults.next_fault()] == [503, 503, None]


def test_bad_secret_stops_the_cli_with_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_settings(["--secret", "whsec_dGVzdA"], {})
    assert stopped.value.code == 2
    assert "webhook secret #1 holds 4 bytes" in capsys.readouterr().err


@pytest.mark.e2e
async def test_python_m_listener_serves_and_fails_on_purpose(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "listener", "--port", str(port), "--secret", SECRET]
    command += ["--store", str(tmp_path / "cli.sqlite3"), "--fail-first", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await _wait_until_healthy(session, f"{base}/health")
            webhook_id = new_webhook_id()
            headers = signed_headers(RESULT_BODY, webhook_id)
            for expected in (500, 200):
                async with session.post(f"{base}/callback", data=RESULT_BODY, headers=headers) as r:
                    assert r.status == expected
            async with session.get(f"{base}/deliveries/{webhook_id}") as r:
                assert json.loads(await r.text())["body"].encode() == RESULT_BODY
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=10)
    assert stdout.decode().startswith(f"delivered {webhook_id} SUCCEEDED")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_until_healthy(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(100):
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")
