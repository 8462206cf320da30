"""`Client`: the promise client over `requests`, for plain synchronous programs (the poller).

It drives the operations `poller.core.Calls` builds: it sends their requests and sleeps their
backoffs; everything else is theirs.
"""

import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import requests
import urllib3.exceptions

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


class Client:
    """Submit, wait, attach, status, cancel, redeliver, list: see docs/client.md."""

    def __init__(
        self,
        ingress_url: str | None = None,
        *,
        admin_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_wait_s: float | None = None,
        max_connect_failures: int = DEFAULT_MAX_CONNECT_FAILURES,
        auth_token: str | None = None,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        progress: Callable[[str], None] = quiet,
        sleep: Callable[[float], None] = time.sleep,
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
        self._own_session = session is None
        self.session = session or requests.Session()
        if auth_token:
            self.session.headers["Authorization"] = f"Bearer {auth_token}"
        self._sleep = sleep

    def query(
        self,
        request: QueryRequest | str | None = None,
        *,
        key: str,
        max_wait_s: float | None = None,
    ) -> QueryResult:
        """Submit with `key` (or re-attach, if the key was used) and wait for the result."""
        return self.run(self.calls.query(request, key, max_wait_s))

    def attach(self, key: str, *, max_wait_s: float | None = None) -> QueryResult:
        """Wait for the result of the query submitted earlier with `key`."""
        return self.run(self.calls.attach(key, max_wait_s))

    def submit(self, request: QueryRequest | str | None = None, *, key: str) -> Submitted:
        """Start the query and return at once (the result is pushed, or attached to later)."""
        return self.run(self.calls.submit(request, key))

    def status(self, key: str) -> PromiseStatus:
        return self.run(self.calls.status(key))

    def cancel(self, key: str, reason: str | None = None) -> CancelAnswer:
        """Ask for the cancel; the result (CANCELLED, unless too late) comes by `attach`."""
        return self.run(self.calls.cancel(key, reason))

    def redeliver(self, key: str) -> RedeliveryAnswer:
        return self.run(self.calls.redeliver(key))

    def invocation_id(self, key: str) -> str:
        return self.run(self.calls.invocation_id(key))

    def list(self, filters: ListFilters | None = None) -> list[PromiseEntry]:
        """Every promise Restate holds, newest first (the admin API: `admin_url`)."""
        return self.run(self.calls.list(filters or ListFilters()))

    def fetch(self, call: IngressCall) -> bytes:
        """The long poll of `call`, its result's bytes as received (the poller prints them)."""
        return self.run(self.calls.fetch(call))

    def run(self, operation: Operation[T]) -> T:
        """Drive one operation: send its requests, sleep its backoffs, return its answer."""
        try:
            step = next(operation)
            while True:
                if isinstance(step, Sleep):
                    self._sleep(step.seconds)
                    step = operation.send(None)
                else:
                    step = operation.send(self._send(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _send(self, request: HttpRequest) -> HttpResponse | TransportFailure:
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=request.timeout_s,
            )
        except requests.Timeout as exc:
            # A connect timeout means nothing answered, just like a refused connection.
            connect = isinstance(exc, requests.ConnectTimeout)
            return TransportFailure("timeout", could_not_connect=connect, timed_out=True)
        except requests.ConnectionError as exc:
            return TransportFailure(*describe_connection_error(exc))
        headers = {name.lower(): value for name, value in response.headers.items()}
        return HttpResponse(response.status_code, response.content, response.reason or "", headers)

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()


def describe_connection_error(exc: requests.ConnectionError) -> tuple[str, bool]:
    """A short reason, and whether the connection was never made (the ingress is down).

    A connection dropped mid-wait (say, Restate restarting) is worth retrying without
    counting towards "unreachable": the next attempt will tell if it stays down.
    """
    cause = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "cannot resolve the host name", True
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused", True
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "cannot connect", True
    return "connection lost", False
