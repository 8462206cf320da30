"""One webhook attempt against a real aiohttp receiver: signature, headers, verdicts."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.promisify.delivery.webhook import (
    USER_AGENT,
    classify,
    parse_retry_after,
    post_webhook,
    signed_headers,
)
from service.settings import Settings
from webhooks.signature import verify

pytestmark = pytest.mark.usefixtures("kept_connections")

SECRET = Settings().webhook_secret
BODY = b'{"state":"SUCCEEDED","rows":[[42.0]]}'


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
Serve = Callable[[Handler], Awaitable[TestServer]]


@pytest.fixture
def serve(aiohttp_server: ServerFactory) -> Serve:
    """A real aiohttp server answering every path with `handler`; closed after the test."""

    async def start(handler: Handler) -> TestServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        return await aiohttp_server(app)

    return start


async def test_the_post_is_signed_per_standard_webhooks_and_verifiable(serve: Serve) -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.json_response({"status": "stored"})

    server = await serve(receive)
    now = int(time.time())
    headers = signed_headers(SECRET, "msg_inv_1", now, BODY)
    outcome = await post_webhook(
        str(server.make_url("/callback")),
        BODY,
        headers,
        timeout_s=5,
        allow_private=True,
        now=now,
    )
    assert outcome.verdict == "delivered" and outcome.status == 200
    (received_headers, received_body) = seen[0]
    assert received_body == BODY
    assert received_headers["User-Agent"] == USER_AGENT
    assert received_headers["Content-Type"] == "application/json"
    verified = verify(SECRET, received_headers, received_body)
    assert verified.webhook_id == "msg_inv_1"


async def test_a_redirect_is_not_followed_but_retried(serve: Serve) -> None:
    followed: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        if request.path != "/callback":
            followed.append(request.path)
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    server = await serve(redirect)
    outcome = await post_webhook(
        str(server.make_url("/callback")), BODY, {}, timeout_s=5, allow_private=True, now=0
    )
    assert outcome.verdict == "retry" and outcome.status == 302
    assert followed == []


async def test_a_private_address_is_refused_at_connect_time() -> None:
    outcome = await post_webhook(
        "http://localhost:9/callback", BODY, {}, timeout_s=5, allow_private=False, now=0
    )
    assert outcome.verdict == "give_up"
    assert "loopback" in (outcome.error or "")


async def test_connection_refused_is_retried() -> None:
    outcome = await post_webhook(
        "http://127.0.0.1:9/callback", BODY, {}, timeout_s=5, allow_private=True, now=0
    )
    assert outcome.verdict == "retry" and outcome.status is None


async def test_a_slow_receiver_times_out_and_is_retried(serve: Serve) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    server = await serve(slow)
    outcome = await post_webhook(
        str(server.make_url("/callback")), BODY, {}, timeout_s=0.3, allow_private=True, now=0
    )
    assert outcome.verdict == "retry" and "no answer within 0.3 s" in (outcome.error or "")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (410, "give_up"),  # Gone: the only answer that stops the retries at once
        (301, "retry"),  # never followed; may be a proxy mid-deploy
        (302, "retry"),
        (400, "retry"),
        (401, "retry"),  # a secret being rotated
        (403, "retry"),
        (404, "retry"),  # a receiver being deployed
        (413, "retry"),
        (408, "retry"),
        (409, "retry"),
        (425, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_classify(status: int, verdict: str) -> None:
    assert classify(status) == verdict


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120", now=0) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 30) == 30
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None
