"""Every call of the client, once, as operations (poller.steps) that a driver runs.

`Client` (sync, requests) and `AsyncClient` (asyncio, aiohttp) hold one of these and drive
what it builds: the waiting, the backoff, the verdicts and the parsing are all here.
"""

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from poller.backoff import Backoff
from poller.client import DEFAULT_MAX_CONNECT_FAILURES, DEFAULT_TIMEOUT_S, LongPoll, quiet
from poller.errors import UnexpectedAnswer
from poller.ingress import IngressCall, attach_call, submit_call
from poller.listing import ListFilters, PromiseEntry, list_promises
from poller.models import (
    CancelAnswer,
    PromiseStatus,
    QueryRequest,
    QueryResult,
    RedeliveryAnswer,
    Submitted,
)
from poller.operations import call_by_key, resolve_invocation, send
from poller.steps import Operation

DEFAULT_INGRESS_URL = INGRESS = "http://localhost:8080"
DEFAULT_ADMIN_URL = ADMIN = "http://localhost:9070"
Model = TypeVar("Model", bound=BaseModel)


def _env_or(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class Calls:
    ingress_url: str = field(default_factory=lambda: _env_or("RESTATE_INGRESS_URL", INGRESS))
    admin_url: str = field(default_factory=lambda: _env_or("RESTATE_ADMIN_URL", ADMIN))
    # Each HTTP request's timeout; a long poll that outlives it is simply asked again.
    timeout_s: float = DEFAULT_TIMEOUT_S
    # The whole wait for a result; None waits as long as it takes.
    max_wait_s: float | None = None
    max_connect_failures: int = DEFAULT_MAX_CONNECT_FAILURES
    backoff: Backoff = field(default_factory=lambda: Backoff(random.Random()))
    clock: Callable[[], float] = time.monotonic
    # One line per attempt and backoff (the poller prints them on stderr).
    progress: Callable[[str], None] = quiet
    # Through the direct entry: the promise is the workflow `queries/{key}`, not the
    # invocation of `query/query` that an idempotency key names.
    direct: bool = False

    def fetch(self, call: IngressCall, max_wait_s: float | None = None) -> Operation[bytes]:
        """Repeat `call` until its result; the body exactly as the ingress sent it."""
        poll = LongPoll(
            ingress_url=self.ingress_url,
            timeout_s=self.timeout_s,
            max_wait_s=self.max_wait_s if max_wait_s is None else max_wait_s,
            max_connect_failures=self.max_connect_failures,
            backoff=self.backoff,
            clock=self.clock,
            progress=self.progress,
        )
        return poll.fetch_result(call)

    def query(
        self, request: QueryRequest | str | None, key: str, max_wait_s: float | None = None
    ) -> Operation[QueryResult]:
        body = _request(request).to_json()
        raw = yield from self.fetch(
            submit_call(self.ingress_url, key, body, self.direct), max_wait_s
        )
        return parse_result(raw)

    def attach(self, key: str, max_wait_s: float | None = None) -> Operation[QueryResult]:
        raw = yield from self.fetch(attach_call(self.ingress_url, key, self.direct), max_wait_s)
        return parse_result(raw)

    def submit(self, request: QueryRequest | str | None, key: str) -> Operation[Submitted]:
        body = _request(request).to_json()
        sent = yield from send(self.ingress_url, key, body, self.timeout_s, self.direct)
        return Submitted(
            invocation_id=sent.get("invocationId"), key=key, status=sent.get("status", "")
        )

    def invocation_id(self, key: str) -> Operation[str]:
        return resolve_invocation(self.ingress_url, key, self.timeout_s, self.direct)

    def status_json(self, key: str) -> Operation[dict[str, object]]:
        return call_by_key(self.ingress_url, key, "status", self.timeout_s, direct=self.direct)

    def status(self, key: str) -> Operation[PromiseStatus]:
        return _parsed(PromiseStatus, self.status_json(key))

    def cancel_json(self, key: str, reason: str | None = None) -> Operation[dict[str, object]]:
        body: dict[str, object] = {"reason": reason} if reason else {}
        return call_by_key(self.ingress_url, key, "cancel", self.timeout_s, body, self.direct)

    def cancel(self, key: str, reason: str | None = None) -> Operation[CancelAnswer]:
        return _parsed(CancelAnswer, self.cancel_json(key, reason))

    def redeliver_json(self, key: str) -> Operation[dict[str, object]]:
        return call_by_key(self.ingress_url, key, "redeliver", self.timeout_s, direct=self.direct)

    def redeliver(self, key: str) -> Operation[RedeliveryAnswer]:
        return _parsed(RedeliveryAnswer, self.redeliver_json(key))

    def list(self, filters: ListFilters) -> Operation[list[PromiseEntry]]:
        return list_promises(self.admin_url, filters, self.timeout_s)


def _request(request: QueryRequest | str | None) -> QueryRequest:
    if isinstance(request, QueryRequest):
        return request
    return QueryRequest(query=request)


def parse_result(raw: bytes) -> QueryResult:
    try:
        return QueryResult.from_bytes(raw)
    except ValidationError as error:
        raise UnexpectedAnswer(f"The answer is not a QueryResult: {error}") from None


def _parsed(model: type[Model], operation: Operation[dict[str, object]]) -> Operation[Model]:
    answer = yield from operation
    try:
        return model.model_validate(answer)
    except ValidationError as error:
        raise UnexpectedAnswer(f"Unexpected answer ({model.__name__}): {error}") from None
