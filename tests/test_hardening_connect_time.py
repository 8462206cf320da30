"""The connect-time check sees the address aiohttp actually connects to (issue 11).

Every name here is answered by a resolver this test controls, inside this process, and every
address it hands out is loopback: no traffic leaves the machine.
"""

import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

import service.promisify.delivery.webhook as webhook
from service.promisify.delivery.webhook import post_webhook

pytestmark = pytest.mark.usefixtures("kept_connections")

BODY = b'{"state":"SUCCEEDED"}'

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class FixedResolver(AbstractResolver):
    """Answers every name with the given addresses, as a hostile DNS server might."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def receiver(aiohttp_server: ServerFactory) -> tuple[TestServer, list[bytes]]:
    """A real receiver on 127.0.0.1 that records every body it is sent."""
    received: list[bytes] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    return await aiohttp_server(app), received  # pytest-aiohttp serves on 127.0.0.1


async def test_a_name_that_resolves_to_loopback_is_refused_before_any_byte_is_sent(
    receiver: tuple[TestServer, list[bytes]],
) -> None:
    server, received = receiver
    resolver = FixedResolver("127.0.0.1")
    outcome = await post_webhook(
        f"http://hooks.example.test:{server.port}/hook",
        BODY,
        {},
        timeout_s=5,
        allow_private=False,
        now=0,
        resolver=resolver,
    )
    assert resolver.asked == ["hooks.example.test"]
    assert outcome.verdict == "give_up"
    assert "127.0.0.1, a loopback address" in (outcome.error or "")
    assert received == []


async def test_the_socket_guard_refuses_even_when_the_resolver_check_is_bypassed(
    receiver: tuple[TestServer, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Take the resolver-level check away: the check on the socket's own address still holds.
    server, received = receiver
    monkeypatch.setattr(webhook, "check_addresses", lambda addresses, allow_private: None)
    outcome = await post_webhook(
        f"http://rebinding.example.test:{server.port}/hook",
        BODY,
        {},
        timeout_s=5,
        allow_private=False,
        now=0,
        resolver=FixedResolver("127.0.0.1"),
    )
    assert outcome.verdict == "give_up"
    assert "loopback" in (outcome.error or "")
    assert received == []


async def test_an_ip_literal_aiohttp_reads_differently_from_urlsplit_is_refused(
    receiver: tuple[TestServer, list[bytes]],
) -> None:
    # Full-width digits: urlsplit sees a name, aiohttp (yarl) connects to 127.0.0.1.
    server, received = receiver
    resolver = FixedResolver("93.184.215.14")  # never asked: a literal is not resolved
    outcome = await post_webhook(
        f"http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{server.port}/hook",
        BODY,
        {},
        timeout_s=5,
        allow_private=False,
        now=0,
        resolver=resolver,
    )
    assert outcome.verdict == "give_up" and "loopback" in (outcome.error or "")
    assert received == [] and resolver.asked == []


async def test_one_forbidden_address_among_the_answers_refuses_the_delivery(
    receiver: tuple[TestServer, list[bytes]],
) -> None:
    server, received = receiver
    outcome = await post_webhook(
        f"http://mixed.example.test:{server.port}/hook",
        BODY,
        {},
        timeout_s=5,
        allow_private=False,
        now=0,
        resolver=FixedResolver("127.0.0.1", "169.254.169.254"),
    )
    assert outcome.verdict == "give_up" and received == []


async def test_metadata_is_refused_at_connect_time_even_with_private_networks_allowed(
    receiver: tuple[TestServer, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The resolver check is bypassed, so only the socket guard stands between the sender and
    # 169.254.169.254; nothing is ever connected (the guard refuses before the socket exists).
    server, _ = receiver
    monkeypatch.setattr(webhook, "check_addresses", lambda addresses, allow_private: None)
    outcome = await post_webhook(
        f"http://metadata.example.test:{server.port}/hook",
        BODY,
        {},
        timeout_s=5,
        allow_private=True,
        now=0,
        resolver=FixedResolver("169.254.169.254"),
    )
    assert outcome.verdict == "give_up" and "metadata" in (outcome.error or "")


async def test_with_private_networks_allowed_a_controlled_name_is_delivered(
    receiver: tuple[TestServer, list[bytes]],
) -> None:
    # The same path, allowed: proof the resolver above is the one aiohttp used.
    server, received = receiver
    outcome = await post_webhook(
        f"http://hooks.example.test:{server.port}/hook",
        BODY,
        {},
        timeout_s=5,
        allow_private=True,
        now=0,
        resolver=FixedResolver("127.0.0.1"),
    )
    assert outcome.verdict == "delivered" and received == [BODY]


async def test_a_malformed_host_is_given_up_on_not_retried() -> None:
    outcome = await post_webhook(
        "http://a..b/hook", BODY, {}, timeout_s=5, allow_private=True, now=0
    )
    assert outcome.verdict == "give_up" and "empty label" in (outcome.error or "")
