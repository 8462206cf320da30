"""`FakeDependency`: a slow dependency in the test's own process, served over HTTP.

It holds every job in memory, plays each job's script (states over time, events, faults),
counts every call, and posts completion events to Restate's ingress, on each state change or
when the test says (early, duplicated, forged). It serves from a thread of its own, on a free
loopback port, so a test keeps its plain blocking style:

    with FakeDependency(ingress_url) as fake:
        ...  # the service's FakeJob calls fake.url
        (job,) = fake.jobs_tagged(tag)
        assert fake.count("start", token=job.token) == 1
"""

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from service.promisify.testing.adapter import EVENT_KIND
from service.promisify.testing.script import FINAL_STATES, Script, parse_spec

OPERATIONS = ("start", "describe", "describe_many", "stop", "result")
# Which calls count towards a fault of each kind.
KINDS = {"describe": ("describe", "describe_many"), "results": ("result",)}


@dataclass(frozen=True)
class Call:
    """One call the fake answered: when (monotonic), what, for which jobs, and how."""

    at: float
    operation: str
    flavor: str
    job_ids: tuple[str, ...]
    status: int
    token: str | None = None


@dataclass
class FakeJobRecord:
    job_id: str
    token: str
    spec: str
    script: Script
    flavor: str
    mailbox: str
    started_at: float
    # Set by a stop or by the test: the state from then on, whatever the script says.
    forced: str | None = None
    stops: int = 0
    events_sent: list[tuple[str, int]] = field(default_factory=list)

    def state(self, now: float | None = None) -> str:
        if self.forced is not None:
            return self.forced
        return self.script.state_after((now or time.monotonic()) - self.started_at)

    def rows(self) -> list[dict[str, Any]]:
        return [{"n": n, "label": f"rangée {n} ✓"} for n in range(self.script.rows)]


class FakeDependency:
    def __init__(self, ingress_url: str | None = None) -> None:
        self.ingress_url = ingress_url
        self.jobs: dict[str, FakeJobRecord] = {}
        self.calls: list[Call] = []
        # Flavors whose batch describe answers 501 "not implemented" (moto's Athena does).
        self.batch_unsupported: set[str] = set()
        self._by_token: dict[str, str] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.url = ""

    # The process side: start, stop, and a context manager.

    def start(self) -> "FakeDependency":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> "FakeDependency":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.cleanup_ctx.append(self._client_session)
        app.router.add_get("/health", _health)
        for operation in OPERATIONS:
            app.router.add_post(f"/{operation}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)  # a free port, chosen by the kernel
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _client_session(self, _: web.Application) -> AsyncIterator[None]:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        yield
        for task in list(self._tasks):
            task.cancel()
        await self._session.close()

    # What a test reads.

    def jobs_tagged(self, tag: str) -> list[FakeJobRecord]:
        with self._lock:
            return [job for job in self.jobs.values() if f"tag={tag}" in job.spec.split()]

    def calls_of(self, operation: str, job_id: str | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self.calls
                if call.operation == operation and (job_id is None or job_id in call.job_ids)
            ]

    def count(self, operation: str, job_id: str | None = None, token: str | None = None) -> int:
        """How many `operation` calls came (for `job_id`, or with start `token`)."""
        calls = self.calls_of(operation, job_id)
        return len([call for call in calls if token is None or call.token == token])

    def state_of(self, job_id: str) -> str:
        with self._lock:
            return self.jobs[job_id].state()

    # What a test does to a job.

    def set_state(self, job_id: str, state: str) -> None:
        """Move the job to `state` now (a held job's end, say); its event goes as scripted."""
        with self._lock:
            job = self.jobs[job_id]
            job.forced = state
        self._on_loop(self._announce(job, state))

    def emit(self, job_id: str, state: str, *, mailbox: str | None = None) -> int:
        """Post an event saying `state` for `job_id`, whatever the job's real state (a forged or
        duplicate event); the ingress's HTTP status once Restate took it."""
        target = mailbox or self.jobs[job_id].mailbox
        body = json.dumps({"kind": EVENT_KIND, "job_id": job_id, "state": state}).encode()
        return self.post_event(target, job_id, body)

    def post_event(self, mailbox: str, job_id: str, body: bytes) -> int:
        return self._on_loop(self._post_event(mailbox, job_id, body)).result(timeout=60)

    # The HTTP side: one handler for every operation, so each call is counted the same way.

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.path.strip("/")
        flavor = request.headers.get("fake-flavor", "")
        body = await request.json()
        status, answer, delay_s = self._decide(operation, flavor, body)
        if delay_s:
            await asyncio.sleep(delay_s)
        if isinstance(answer, Future):  # an early event, to be taken before the start answers
            answer = await asyncio.wrap_future(answer)
        return web.json_response(answer, status=status)

    def _decide(self, operation: str, flavor: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        """The answer, under the lock: the status, the JSON, and how long to hold it back."""
        with self._lock:
            if operation == "start":
                return self._start(flavor, body)
            ids = tuple(body["job_ids"]) if operation == "describe_many" else (body["job_id"],)
            known = [self.jobs[job_id] for job_id in ids if job_id in self.jobs]
            status, answer, delay_s = self._operate(operation, flavor, ids, known, body)
            self.calls.append(Call(time.monotonic(), operation, flavor, ids, status))
            return status, answer, delay_s

    def _start(self, flavor: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        token = body["token"]
        attempt = 1 + len([c for c in self.calls if c.operation == "start" and c.token == token])
        job_id = self._by_token.get(token)
        try:
            script = parse_spec(body["spec"])
        except ValueError as error:
            return self._record_start(flavor, token, job_id, 400, f"Bad spec: {error}")
        fault = script.fault("start")
        if fault.kind == "refuse":
            return self._record_start(flavor, token, job_id, 400, "The fake refuses this job.")
        if fault.kind == "throttle" and fault.applies(attempt):
            return self._record_start(flavor, token, job_id, 429, "Throttled; try again.")
        early: Future[Any] | None = None
        if job_id is None:
            job_id = str(uuid.uuid4())
            self._by_token[token] = job_id
            job = FakeJobRecord(
                job_id, token, body["spec"], script, flavor, body["mailbox"], time.monotonic()
            )
            self.jobs[job_id] = job
            early = self._follow(job)
        if fault.kind == "lose" and fault.applies(attempt):
            return self._record_start(flavor, token, job_id, 503, "Started; the answer got lost.")
        self.calls.append(Call(time.monotonic(), "start", flavor, (job_id,), 200, token))
        answer = early if early is not None else {"job_id": job_id}
        return 200, answer, fault.delay_s if fault.kind == "slow" else 0.0

    def _record_start(
        self, flavor: str, token: str, job_id: str | None, status: int, message: str
    ) -> tuple[int, Any, float]:
        ids = (job_id,) if job_id else ()
        self.calls.append(Call(time.monotonic(), "start", flavor, ids, status, token))
        return status, {"message": message}, 0.0

    def _operate(
        self,
        operation: str,
        flavor: str,
        ids: tuple[str, ...],
        known: list[FakeJobRecord],
        body: dict[str, Any],
    ) -> tuple[int, Any, float]:
        if operation == "describe_many" and flavor in self.batch_unsupported:
            return 501, {"message": "describe_many is not implemented"}, 0.0
        kind = "results" if operation == "result" else "describe"
        for job in known:
            if operation == "stop":
                break
            fault = job.script.fault(kind)
            number = 1 + len(
                [c for c in self.calls if c.operation in KINDS[kind] and job.job_id in c.job_ids]
            )
            if fault.kind == "refuse":
                return 403, {"message": f"The fake refuses to {operation} job {job.job_id}."}, 0.0
            if fault.kind == "fail" and fault.applies(number):
                return 500, {"message": f"{operation} failed (injected)"}, 0.0
        if operation == "describe_many":
            return 200, {"statuses": [self._status(job) for job in known]}, 0.0
        if not known:
            return 404, {"message": f"No job {ids[0]}."}, 0.0
        (job,) = known
        if operation == "describe":
            return 200, self._status(job), 0.0
        if operation == "stop":
            job.stops += 1
            if job.state() not in FINAL_STATES:
                job.forced = "CANCELLED"
                self._on_loop(self._announce(job, "CANCELLED"))
            return 200, {}, 0.0
        return self._page(job, int(body["page"]))

    def _status(self, job: FakeJobRecord) -> dict[str, Any]:
        state = job.state()
        reason = job.script.reason if state in ("FAILED", "CANCELLED") else None
        if state == "CANCELLED" and job.stops and reason is None:
            reason = "Stopped by request."
        return {"job_id": job.job_id, "state": state, "reason": reason}

    def _page(self, job: FakeJobRecord, page: int) -> tuple[int, Any, float]:
        if job.state() != "SUCCEEDED":
            return 400, {"message": f"Job {job.job_id} has no result: it is {job.state()}."}, 0.0
        size = max(1, job.script.page_size)
        rows = job.rows()[page * size : (page + 1) * size]
        more = (page + 1) * size < job.script.rows
        answer = {"rows": rows, "next_page": page + 1 if more else None}
        return 200, answer, job.script.page_delay_s

    # Events: on each state change of the script, and on demand.

    def _follow(self, job: FakeJobRecord) -> Future[Any] | None:
        """Announce the job's states as its script moves; an early event's answer to wait for."""
        first = job.script.state_after(0)
        early: Future[Any] | None = None
        if job.script.events == "early":
            early = self._on_loop(self._early(job, first))
        else:
            self._on_loop(self._announce(job, first))
        self._on_loop(self._timeline(job))
        return early

    async def _early(self, job: FakeJobRecord, state: str) -> dict[str, str]:
        await self._announce(job, state)
        return {"job_id": job.job_id}

    async def _timeline(self, job: FakeJobRecord) -> None:
        for at in job.script.changes_at():
            await asyncio.sleep(max(0.0, job.started_at + at - time.monotonic()))
            if job.forced is not None:
                return  # stopped, or moved by the test: its own event went then
            await self._announce(job, job.script.state_after(at + 0.001))

    async def _announce(self, job: FakeJobRecord, state: str) -> None:
        events = job.script.events
        if events == "none" or (events == "final" and state not in FINAL_STATES):
            return
        body = json.dumps({"kind": EVENT_KIND, "job_id": job.job_id, "state": state}).encode()
        for _ in itertools.repeat(None, max(1, job.script.duplicates)):
            status = await self._post_event(job.mailbox, job.job_id, body)
            with self._lock:
                job.events_sent.append((state, status))

    async def _post_event(self, mailbox: str, job_id: str, body: bytes) -> int:
        if self.ingress_url is None or self._session is None:
            return 0
        url = f"{self.ingress_url}/{mailbox}/{job_id}/onEvent"
        headers = {"content-type": "application/json"}
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    def _on_loop(self, work: Any) -> Future[Any]:
        """Run a coroutine on the fake's loop, from any thread, keeping the task referenced."""

        async def tracked() -> Any:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                return await work
            finally:
                self._tasks.discard(task)

        return asyncio.run_coroutine_threadsafe(tracked(), self._loop)


async def _health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
