"""`AsyncClient`: the promise client for asyncio programs, over `aiohttp`.

The same calls as `poller.sync.Client`, driving the same operations (`poller.core.Calls`):
only sending a request and sleeping are its own.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import aiohttp

from poller.backoff import Backoff
from poller.client import DEFAULT_MAX_CONNECT_FAILURES, DEFAULT_TIMEOUT_S, quiet
from poller.core import Calls
from poller.ingress import IngressCall
from poller.listing import ListFilters, PromiseEntry
from poller.models import (
    CancelAnswer,
    PromiseStatus,
    QueryRequest,
    QueryResult,
    RedeliveryAnswer,
    Submitted,
)
from poller.steps import HttpRequest, HttpResponse, Operation, Sleep, TransportFailure

T = TypeVar("T")


class AsyncClient:
    """`async with AsyncClient(url) as client: result = await client.query(sql, key=k)`."""

    def __init__(
        self,
        ingress_url: str | None = None,
        *,
        admin_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_wait_s: float | None = None,
        max_connect_failures: int = DEFAULT_MAX_CONNECT_FAILURES,
        auth_token: str | None = None,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        progress: Callable[[str], None] = quiet,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        direct: bool = False,
    ) -> None:
        self.calls = Calls(
            timeout_s=timeout_s,
            max_wait_s=max_wait_s,
            max_connect_failures=max_connect_failures,
            backoff=Backoff(rng or random.Random()),
            clock=clock,
            progress=progress,
            direct=direct,
        )
        if ingress_url:
            self.calls.ingress_url = ingress_url.rstrip("/")
        if admin_url:
            self.calls.admin_url = admin_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._sleep = sleep

    async def query(
        self,
        request: QueryRequest | str | None = None,
        *,
        key: str,
        max_wait_s: float | None = None,
    ) -> QueryResult:
        """Submit with `key` (or re-attach, if the key was used) and wait for the result."""
        return await self.run(self.calls.query(request, key, max_wait_s))

    async def attach(self, key: str, *, max_wait_s: float | None = None) -> QueryResult:
        return await self.run(self.calls.attach(key, max_wait_s))

    async def submit(self, request: QueryRequest | str | None = None, *, key: str) -> Submitted:
        return await self.run(self.calls.submit(request, key))

    async def status(self, key: str) -> PromiseStatus:
        return await self.run(self.calls.status(key))

    async def cancel(self, key: str, reason: str | None = None) -> CancelAnswer:
        return await self.run(self.calls.cancel(key, reason))

    async def redeliver(self, key: str) -> RedeliveryAnswer:
        return await self.run(self.calls.redeliver(key))

    async def invocation_id(self, key: str) -> str:
        return await self.run(self.calls.invocation_id(key))

    async def list(self, filters: ListFilters | None = None) -> list[PromiseEntry]:
        return await self.run(self.calls.list(filters or ListFilters()))

    async def fetch(self, call: IngressCall) -> bytes:
        return await self.run(self.calls.fetch(call))

    async def run(self, operation: Operation[T]) -> T:
        """Drive one operation: send its requests, sleep its backoffs, return its answer."""
        try:
            step = next(operation)
            while True:
                if isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                    step = operation.send(None)
                else:
                    step = operation.send(await self._send(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _send(self, request: HttpRequest) -> HttpResponse | TransportFailure:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.request(
                request.method,
                request.url,
                headers={**self._headers, **request.headers},
                data=request.body,
                timeout=aiohttp.ClientTimeout(total=request.timeout_s),
            ) as response:
                content = await response.read()
        except aiohttp.ConnectionTimeoutError:
            return TransportFailure("timeout", could_not_connect=True, timed_out=True)
        except TimeoutError:
            return TransportFailure("timeout", could_not_connect=False, timed_out=True)
        except aiohttp.ClientConnectorDNSError:
            return TransportFailure("cannot resolve the host name", could_not_connect=True)
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            return TransportFailure(
                "connection refused" if refused else "cannot connect", could_not_connect=True
            )
        except aiohttp.ClientError:
            return TransportFailure("connection lost", could_not_connect=False)
        headers = {name.lower(): value for name, value in response.headers.items()}
        return HttpResponse(response.status, content, response.reason or "", headers)

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.close()
