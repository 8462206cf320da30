"""One signed webhook POST, per the Standard Webhooks specification. Knows nothing of Athena.

The address is checked again at connect time, twice: the resolver refuses a forbidden answer
before any connection is tried, and the socket factory refuses every address the connector is
about to connect a socket to. The second check is the one that cannot be talked around: it
sees the very address of the socket, whatever the URL's spelling or the DNS answer (rebinding)
was. Redirects are never followed: a 3xx is a failed attempt, retried like a 5xx.

Connections are kept alive and reused, one pool per event loop (`Receivers`): a busy
receiver costs a TCP (and TLS) handshake per connection, not one per result. Both checks run
when a connection is made, so a connection that is reused was checked when it was opened.
"""

import asyncio
import errno
import socket
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from pydantic import BaseModel
from yarl import URL

from service.promisify.connections import LoopSessions
from service.promisify.delivery.callback_url import (
    CallbackUrlRefused,
    check_addresses,
    check_static,
    literal_address,
    parse_url,
    refusal_for_address,
    resolve_checked,
)
from webhooks.signature import sign

USER_AGENT = "athena-durable-promise-webhooks/0.1"  # the project's name: receivers allow-list it
# Standard Webhooks: 410 Gone says the endpoint is gone for good; stop at once. Every other
# answer that is not a 2xx (401/403/404 during a deploy or a secret rotation, a 3xx from a
# proxy being reconfigured) may heal, so it is retried on the schedule until the window closes.
GIVE_UP_STATUSES = {410}

Verdict = Literal["delivered", "retry", "give_up"]
# An idle connection is closed after this long: before the 5 s after which common servers
# (Node.js, uvicorn) close theirs, so a POST seldom meets a connection the receiver dropped.
KEEP_ALIVE_S = 4.0
# The refusals of the POST being made (each call its own list): the guard is shared by every
# connection of a pool, and aiohttp reports only that a connect failed.
_refusals: ContextVar[list[str] | None] = ContextVar("webhook_refusals", default=None)


class AttemptOutcome(BaseModel):
    verdict: Verdict
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def classify(status: int) -> Verdict:
    if 200 <= status < 300:
        return "delivered"
    if status in GIVE_UP_STATUSES:
        return "give_up"
    return "retry"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class _CheckingResolver(AbstractResolver):
    """Resolves like the system does, then refuses forbidden addresses before connecting."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or aiohttp.ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        addresses = [str(result["host"]) for result in results]
        check_addresses(addresses, allow_private=self._allow_private)
        return results

    async def close(self) -> None:
        await self._inner.close()


class ForbiddenPeer(OSError):
    """The connector was about to connect a socket to a forbidden address."""


class _PeerGuard:
    """aiohttp's socket factory: sees each address a socket is about to connect to, and
    refuses a forbidden one. Tells the POST why (`_refusals`), since aiohttp reports only a
    failed connect."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def __call__(self, addr_info: aiohttp.connector.AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        reason = refusal_for_address(str(sockaddr[0]), allow_private=self.allow_private)
        if reason:
            refusals = _refusals.get()
            if refusals is not None:
                refusals.append(reason)
            raise ForbiddenPeer(reason)
        return socket.socket(family=family, type=type_, proto=proto)


# Private networks allowed or not, and the resolver: each a pool of its own.
_PoolKey = tuple[bool, AbstractResolver | None]


class Receivers:
    """Kept-alive connections to webhook receivers, per event loop (`LoopSessions`) and per
    way of checking addresses."""

    def __init__(self, keep_alive_s: float = KEEP_ALIVE_S) -> None:
        self._keep_alive_s = keep_alive_s
        self._sessions: LoopSessions[_PoolKey] = LoopSessions(self._session_for)

    def session(
        self, *, allow_private: bool, resolver: AbstractResolver | None
    ) -> aiohttp.ClientSession:
        return self._sessions.get((allow_private, resolver))

    def _session_for(self, key: _PoolKey) -> aiohttp.ClientSession:
        allow_private, resolver = key
        connector = aiohttp.TCPConnector(
            resolver=_CheckingResolver(allow_private=allow_private, inner=resolver),
            socket_factory=_PeerGuard(allow_private=allow_private),
            use_dns_cache=False,
            keepalive_timeout=self._keep_alive_s,
            limit=0,  # as many connections as POSTs at once, as before there was a pool
        )
        return aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        """Close the running loop's connections (when the service stops)."""
        await self._sessions.close()


RECEIVERS = Receivers()


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def post_webhook(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    allow_private: bool,
    now: float,
    resolver: AbstractResolver | None = None,
    receivers: Receivers = RECEIVERS,
) -> AttemptOutcome:
    """POST once; every failure is an outcome, never an exception. `resolver` answers DNS
    (default: the system's, in a thread); its answers are checked like any other."""
    refusals: list[str] = []
    told = _refusals.set(refusals)
    try:
        target = check_static(url)
        if literal_address(target.host):
            # aiohttp connects to an IP literal without asking the resolver: check it here.
            resolve_checked(target, allow_private=allow_private)
        session = receivers.session(allow_private=allow_private, resolver=resolver)
        async with asyncio.timeout(timeout_s):
            return await _post(session, url, body, headers, now)
    except CallbackUrlRefused as refusal:
        return AttemptOutcome(verdict="give_up", error=f"callback_url {refusal}")
    except TimeoutError:
        return AttemptOutcome(verdict="retry", error=f"no answer within {timeout_s:g} s")
    except aiohttp.ClientError as error:
        refused = refusals[0] if refusals else None
        if refused is None and isinstance(error.__cause__, CallbackUrlRefused):
            refused = str(error.__cause__)
        if refused is not None:
            return AttemptOutcome(verdict="give_up", error=f"callback_url {refused}")
        # Refused connections, resets and DNS failures may heal: try again later.
        return AttemptOutcome(verdict="retry", error=f"{type(error).__name__}: {error}")
    finally:
        _refusals.reset(told)  # this POST's list goes with it, not into the caller's next one


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], now: float
) -> AttemptOutcome:
    # The very URL object the checks read: one parse for the check and the connection.
    target = parse_url(url)
    try:
        return await _post_on(session, target, body, headers, now)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as error:
        if not _dropped_before_answer(error):
            raise
    # A kept-alive connection the receiver had closed meanwhile fails before any answer:
    # once more, on another connection (the webhook-id lets the receiver de-duplicate).
    return await _post_on(session, target, body, headers, now)


async def _post_on(
    session: aiohttp.ClientSession,
    target: URL,
    body: bytes,
    headers: dict[str, str],
    now: float,
) -> AttemptOutcome:
    async with session.post(target, data=body, headers=headers, allow_redirects=False) as response:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        return AttemptOutcome(
            verdict=classify(response.status),
            status=response.status,
            retry_after_s=retry_after,
            error=None if response.status < 300 else f"HTTP {response.status}",
        )


def _dropped_before_answer(error: aiohttp.ClientError) -> bool:
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return True
    return isinstance(error, aiohttp.ClientOSError) and error.errno in (
        errno.ECONNRESET,
        errno.EPIPE,
    )
