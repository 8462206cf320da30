"""Webhook connections are kept alive and reused, and a connection the receiver dropped
costs no attempt: real aiohttp sessions against real servers on loopback."""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.promisify.delivery.webhook import Receivers, post_webhook

BODY = b'{"state":"SUCCEEDED"}'
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    pool = Receivers(keep_alive_s=0.5)
    yield pool
    await pool.close()


async def post(url: str, receivers: Receivers) -> str:
    outcome = await post_webhook(
        url, BODY, {}, timeout_s=5, allow_private=True, now=0, receivers=receivers
    )
    return outcome.verdict


async def test_results_for_one_receiver_share_one_connection(
    aiohttp_server: ServerFactory, receivers: Receivers
) -> None:
    peers: list[object] = []

    async def receive(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.Response()

    app = web.Application()
    app.router.add_post("/callback", receive)
    server = await aiohttp_server(app)
    url = str(server.make_url("/callback"))
    assert [await post(url, receivers) for _ in range(3)] == ["delivered"] * 3
    assert len(peers) == 3 and len(set(peers)) == 1  # one client port: one connection


class DroppingReceiver:
    """Answers the first POST on each connection; closes the connection when a second one
    comes on it, unanswered, as a receiver does whose idle limit ran out as the POST left."""

    def __init__(self) -> None:
        self.posts_per_connection: list[int] = []
        self.closed_by_client = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = len(self.posts_per_connection)
        self.posts_per_connection.append(0)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.posts_per_connection[connection] += 1
                if self.posts_per_connection[connection] > 1:
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except asyncio.IncompleteReadError:
            self.closed_by_client += 1
        finally:
            writer.close()


async def test_a_connection_the_receiver_dropped_is_replaced_within_the_attempt(
    receivers: Receivers,
) -> None:
    receiver = DroppingReceiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/callback"
    try:
        assert await post(url, receivers) == "delivered"
        assert await post(url, receivers) == "delivered"
    finally:
        server.close()
    # The second result left on the kept-alive connection, met its close, and went again
    # on a new one: two results, three POSTs, no attempt lost to the retry schedule.
    assert receiver.posts_per_connection == [2, 1]


async def test_an_idle_connection_is_closed_after_the_keep_alive(receivers: Receivers) -> None:
    receiver = DroppingReceiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await post(f"http://127.0.0.1:{port}/callback", receivers) == "delivered"
        for _ in range(40):  # the fixture keeps connections 0.5 s; give it up to 4 s
            if receiver.closed_by_client:
                break
            await asyncio.sleep(0.1)
    finally:
        server.close()
    assert receiver.closed_by_client == 1
