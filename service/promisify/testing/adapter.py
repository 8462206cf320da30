"""`FakeJob`: the kit's `Job`, backed by a `FakeDependency` reached over HTTP.

It runs in the service process and keeps nothing itself: the fake's memory lives in the test
process, so a service killed mid-step loses none of it (starts per token, calls, states).
"""

import json
import time
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.promisify.job import (
    BatchUnsupported,
    Collected,
    EventRefused,
    JobRefused,
    JobStatus,
    Meaning,
    News,
    ResultState,
    Settled,
    Steps,
)
from service.promisify.validation import describe_validation_error

EVENT_KIND = "fake.state-change"
MEANINGS: dict[str, Meaning] = {
    "QUEUED": "waiting",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}
CALL_TIMEOUT = aiohttp.ClientTimeout(total=15)


class FakeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # What the job does (see `script.py`): states, events, rows, faults.
    spec: str = Field("", max_length=2000)
    callback_url: str | None = Field(None, max_length=2048)
    timeout_s: float | None = Field(None, gt=0)


class FakeStatus(JobStatus):
    pass


class FakeRows(Collected):
    rows: list[dict[str, Any]] = Field(default_factory=list)

    def count(self) -> int:
        return len(self.rows)


class FakePage(BaseModel):
    rows: list[dict[str, Any]]
    next_page: int | None
    heard_at: float


class FakeResult(BaseModel):
    invocation_id: str
    job_id: str | None
    spec: str
    state: ResultState
    rows: list[dict[str, Any]]
    row_count: int
    error: str | None
    ended_at: datetime


class FakeEvent(BaseModel):
    """What the fake posts on a state change: `{"kind": ..., "job_id": ..., "state": ...}`."""

    kind: str = Field(max_length=64)
    job_id: str = Field(max_length=64)
    state: str = Field(max_length=32)


class FakeUnavailable(Exception):
    """A transient answer (429, 5xx): the kit retries the step."""


class FakeJob:
    name = "Fake"
    noun = "job"
    request_type = FakeRequest
    status_type = FakeStatus
    collected_type = FakeRows
    result_type = FakeResult
    status_names: Mapping[str, str] = MappingProxyType({})
    initial_state = "QUEUED"

    def __init__(self, url: str, *, flavor: str, mailbox: str, batch_limit: int = 5) -> None:
        self.url = url.rstrip("/")
        # Which promise of the service calls: the fake keeps its switches per flavor.
        self.flavor, self.mailbox, self.batch_limit = flavor, mailbox, batch_limit
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=CALL_TIMEOUT)
        headers = {"fake-flavor": self.flavor}
        async with self._session.post(f"{self.url}/{operation}", json=body, headers=headers) as r:
            text = await r.text()
            answer: dict[str, Any] = json.loads(text) if text else {}
            if r.status < 300:
                return answer
            message = str(answer.get("message", f"HTTP {r.status}"))
            if r.status == 501:
                raise BatchUnsupported(message)
            if r.status in (400, 403, 404):
                raise JobRefused(message, 400 if r.status == 400 else 502)
            raise FakeUnavailable(f"{operation}: HTTP {r.status}: {message}")

    def prepare(self, request: FakeRequest) -> FakeRequest:
        return request

    def subject(self, request: FakeRequest) -> str:
        return request.spec

    def meaning(self, state: str) -> Meaning:
        return MEANINGS.get(state, "waiting")

    async def start(self, request: FakeRequest, token: str) -> str:
        body = {"token": token, "spec": request.spec, "mailbox": self.mailbox}
        return str((await self._call("start", body))["job_id"])

    async def describe(
        self, job_id: str, news: str | None = None, request: FakeRequest | None = None
    ) -> FakeStatus:
        answer = await self._call("describe", {"job_id": job_id})
        return FakeStatus(**answer, heard_at=time.time())

    async def describe_many(self, job_ids: list[str]) -> list[FakeStatus]:
        answer = await self._call("describe_many", {"job_ids": job_ids})
        return [FakeStatus(**status, heard_at=time.time()) for status in answer["statuses"]]

    async def stop(self, job_id: str) -> None:
        await self._call("stop", {"job_id": job_id})

    async def read_page(self, job_id: str, page: int) -> FakePage:
        answer = await self._call("result", {"job_id": job_id, "page": page})
        return FakePage(**answer, heard_at=time.time())

    async def collect(self, steps: Steps, request: FakeRequest, status: FakeStatus) -> FakeRows:
        rows: list[dict[str, Any]] = []
        page: int | None = 0
        heard_at = None
        while page is not None:
            read = await steps.run(
                "read page", self.read_page, status.job_id, page, result=FakePage
            )
            rows.extend(read.rows)
            steps.progress(len(rows))
            page, heard_at = read.next_page, read.heard_at
        return FakeRows(rows=rows, heard_at=heard_at)

    def read_event(self, body: bytes) -> News | None:
        try:
            event = FakeEvent.model_validate_json(body)
        except ValidationError as error:
            raise EventRefused(describe_validation_error(error, "fake event", FakeEvent)) from None
        if event.kind != EVENT_KIND:
            return None
        return News(job_id=event.job_id, state=event.state)

    def result(
        self,
        settled: Settled,
        request: FakeRequest,
        status: FakeStatus | None,
        collected: FakeRows | None,
    ) -> FakeResult:
        rows = collected.rows if collected else []
        return FakeResult(
            invocation_id=settled.invocation_id,
            job_id=settled.job_id,
            spec=request.spec,
            state=settled.state,
            rows=rows,
            row_count=len(rows),
            error=settled.error,
            ended_at=settled.ended_at,
        )
