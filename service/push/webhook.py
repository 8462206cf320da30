"""One signed webhook POST, per the Standard Webhooks specification. Knows nothing of Athena.

The address is checked again at connect time, on the very addresses aiohttp connects to, so a
DNS answer that changed since submission (rebinding) cannot reach a private network.
Redirects are never followed: a 3xx is a failed attempt.
"""

import socket
from email.utils import parsedate_to_datetime
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from pydantic import BaseModel

from service.push.callback_url import (
    CallbackUrlRefused,
    check_addresses,
    check_static,
    literal_address,
)
from webhooks.signature import sign

USER_AGENT = "athena-durable-promise-webhooks/0.1"
# 408 Request Timeout, 409 Conflict, 425 Too Early and 429 Too Many Requests may pass.
RETRYABLE_4XX = {408, 409, 425, 429}

Verdict = Literal["delivered", "retry", "give_up"]


class AttemptOutcome(BaseModel):
    verdict: Verdict
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def classify(status: int) -> Verdict:
    if 200 <= status < 300:
        return "delivered"
    if 500 <= status < 600 or status in RETRYABLE_4XX:
        return "retry"
    # A 3xx is never followed (the URL is wrong); other 4xx say the receiver will never take it.
    return "give_up"


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

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
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
) -> AttemptOutcome:
    """POST once; every failure is an outcome, never an exception."""
    try:
        host, _ = check_static(url)
        # aiohttp skips the resolver for an IP literal, so check that one here.
        literal = literal_address(host)
        if literal:
            check_addresses([literal], allow_private=allow_private)
        resolver = _CheckingResolver(allow_private=allow_private)
        connector = aiohttp.TCPConnector(resolver=resolver, force_close=True)
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
            return AttemptOutcome(
                verdict=classify(response.status),
                status=response.status,
                retry_after_s=retry_after,
                error=None if response.status < 300 else f"HTTP {response.status}",
            )
    except CallbackUrlRefused as refusal:
        return AttemptOutcome(verdict="give_up", error=f"callback_url {refusal}")
    except TimeoutError:
        return AttemptOutcome(verdict="retry", error=f"no answer within {timeout_s:g} s")
    except aiohttp.ClientError as error:
        # Refused connections, resets and DNS failures may heal: try again later.
        cause = error.__cause__ if isinstance(error.__cause__, CallbackUrlRefused) else None
        if cause is not None:
            return AttemptOutcome(verdict="give_up", error=f"callback_url {cause}")
        return AttemptOutcome(verdict="retry", error=f"{type(error).__name__}: {error}")
