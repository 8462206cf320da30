"""The client library: its typed calls and errors against a mocked ingress (`responses`), the
one sans-IO loop driven by hand, and the async client over a real aiohttp server with the same
backoff. End to end against the real stack: tests/test_client_e2e.py."""

import asyncio
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from poller import (
    AsyncClient,
    BadRequest,
    Client,
    GaveUp,
    IngressUnreachable,
    QueryRequest,
    Refused,
    UnknownKey,
)
from poller.backoff import Backoff
from poller.client import LongPoll
from poller.errors import UnexpectedAnswer
from poller.ingress import submit_call
from poller.steps import HttpRequest, HttpResponse, Sleep, TransportFailure

INGRESS = "http://ingress.test:8080"
KEY = "key-1234"
SUBMIT_URL = f"{INGRESS}/query/query"
ATTACH_URL = f"{INGRESS}/restate/invocation/query/query/{KEY}/attach"
OUTPUT_URL = f"{INGRESS}/restate/invocation/query/query/{KEY}/output"
INVOCATION = "inv_1abc"


def result(state: str = "SUCCEEDED") -> dict[str, Any]:
    return {
        "invocation_id": INVOCATION,
        "query_execution_id": "qe-1",
        "query": "SELECT 1",
        "state": state,
        "columns": [{"name": "_col0", "type": "integer"}],
        "rows": [[1]],
        "row_count": 1,
        "truncated": False,
        "output_location": "s3://b/qe-1.csv",
        "statistics": {"total_execution_time_ms": 5},
        "error": None,
        "submitted_at": "2026-12-01T10:00:00Z",
        "completed_at": "2026-12-01T10:00:01Z",
        "a_field_of_a_newer_service": 1,
    }


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def ingress() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def client(fake: FakeTime, lines: list[str] | None = None, **options: Any) -> Client:
    progress = lines.append if lines is not None else print
    return Client(
        INGRESS,
        rng=random.Random(7),
        sleep=fake.sleep,
        clock=fake.clock,
        progress=progress,
        **options,
    )


# --- the one loop, with no I/O at all ------------------------------------------------------


def test_the_long_poll_is_a_generator_of_requests_and_sleeps() -> None:
    lines: list[str] = []
    poll = LongPoll(INGRESS, timeout_s=0.5, backoff=Backoff(random.Random(7)), clock=lambda: 0.0)
    poll.progress = lines.append
    steps = poll.fetch_result(submit_call(INGRESS, KEY, {"query": "SELECT 1"}))
    first = next(steps)
    assert isinstance(first, HttpRequest)
    assert (first.method, first.url, first.timeout_s) == ("POST", SUBMIT_URL, 0.5)
    assert first.headers["idempotency-key"] == KEY and first.body == b'{"query": "SELECT 1"}'
    backoff = steps.send(TransportFailure("timeout", could_not_connect=False, timed_out=True))
    assert isinstance(backoff, Sleep) and 0 <= backoff.seconds <= 0.25
    assert lines[-1] == (
        f"Attempt #1 failed: timeout of 500ms exceeded. Backing off for "
        f"{round(backoff.seconds * 1000)}ms..."
    )
    again = steps.send(None)
    assert again == first  # the same request, the same key: Restate attaches it
    with pytest.raises(StopIteration) as done:
        steps.send(HttpResponse(200, b'{"state": "SUCCEEDED"}'))
    assert done.value.value == b'{"state": "SUCCEEDED"}'


def test_a_direct_submit_answered_409_attaches_to_the_keys_workflow_at_once() -> None:
    lines: list[str] = []
    poll = LongPoll(INGRESS, timeout_s=0.5, backoff=Backoff(random.Random(7)), clock=lambda: 0.0)
    poll.progress = lines.append
    steps = poll.fetch_result(submit_call(INGRESS, KEY, {"query": "SELECT 1"}, direct=True))
    first = next(steps)
    assert isinstance(first, HttpRequest)
    assert (first.method, first.url) == ("POST", f"{INGRESS}/queries/{KEY}/run")
    assert "idempotency-key" not in first.headers  # the key is the workflow's own
    # A timeout, then the same run again: Restate has started the key's workflow already.
    steps.send(TransportFailure("timeout", could_not_connect=False, timed_out=True))
    assert steps.send(None) == first
    already = b'{"code":409,"message":"the workflow method was already invoked"}'
    attach = steps.send(HttpResponse(409, already))
    assert isinstance(attach, HttpRequest)  # at once, no backoff
    assert (attach.method, attach.body) == ("GET", None)
    assert attach.url == f"{INGRESS}/restate/workflow/queries/{KEY}/attach"
    assert lines[-2:] == [
        f"Key {KEY} was submitted before: attaching to its promise.",
        "Waiting for the result: attempt #2, 0.0s elapsed",
    ]
    with pytest.raises(StopIteration) as done:
        steps.send(HttpResponse(200, b'{"state": "SUCCEEDED"}'))
    assert done.value.value == b'{"state": "SUCCEEDED"}'


def test_a_409_through_the_front_is_not_taken_for_an_earlier_submission() -> None:
    # Only the direct entry's 409 means "run before"; the front's is an answer to report.
    steps = LongPoll(INGRESS, clock=lambda: 0.0).fetch_result(
        submit_call(INGRESS, KEY, {"query": "SELECT 1"})
    )
    next(steps)
    with pytest.raises(UnexpectedAnswer):
        steps.send(HttpResponse(409, b'{"message": "conflict"}'))


# --- the sync client -----------------------------------------------------------------------


def test_query_retries_with_backoff_and_returns_the_typed_result_and_its_bytes(
    ingress: responses.RequestsMock,
) -> None:
    fake, lines = FakeTime(), list[str]()
    body = json.dumps(result()).encode()
    ingress.post(SUBMIT_URL, status=503, json={"message": "unavailable"})
    ingress.post(SUBMIT_URL, body=body)
    answer = client(fake, lines).query(QueryRequest(query="SELECT 1", max_rows=5), key=KEY)
    assert answer.state == "SUCCEEDED" and answer.rows == [[1]]
    assert answer.columns[0].type == "integer" and answer.statistics.total_execution_time_ms == 5
    assert answer.received == body  # what the webhook carries, byte for byte
    assert answer.model_extra == {"a_field_of_a_newer_service": 1}
    assert json.loads(ingress.calls[1].request.body or b"") == {"query": "SELECT 1", "max_rows": 5}
    assert lines[1].startswith("Attempt #1 failed: HTTP 503 unavailable. Backing off for ")
    assert len(fake.sleeps) == 1


def test_a_bad_request_is_raised_with_the_field_and_not_retried(
    ingress: responses.RequestsMock,
) -> None:
    message = "Invalid query request. max_rows: Input should be greater than or equal to 0"
    ingress.post(SUBMIT_URL, status=400, json={"code": 400, "message": message})
    with pytest.raises(BadRequest, match="max_rows") as refused:
        client(FakeTime()).query(QueryRequest(max_rows=-1), key=KEY)
    assert refused.value.status == 400 and refused.value.exit_code == 2
    assert len(ingress.calls) == 1


def test_attach_to_an_unknown_key_raises_unknown_key(ingress: responses.RequestsMock) -> None:
    ingress.get(ATTACH_URL, status=404, json={"message": "not found"})
    with pytest.raises(UnknownKey, match=KEY):
        client(FakeTime()).attach(KEY)


def test_an_unreachable_ingress_is_raised_after_the_connect_failures(
    ingress: responses.RequestsMock,
) -> None:
    for _ in range(3):
        refused = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
        ingress.get(ATTACH_URL, body=refused)
    fake = FakeTime()
    with pytest.raises(IngressUnreachable, match="Cannot reach the Restate ingress"):
        client(fake, max_connect_failures=3).attach(KEY)
    assert len(fake.sleeps) == 2


def test_max_wait_raises_gave_up_naming_the_key(ingress: responses.RequestsMock) -> None:
    ingress.get(ATTACH_URL, status=503)
    fake = FakeTime()
    with pytest.raises(GaveUp) as gave_up:
        client(fake).attach(KEY, max_wait_s=3)
    assert gave_up.value.key == KEY and fake.now < 3


def test_status_cancel_and_redeliver_are_typed(ingress: responses.RequestsMock) -> None:
    ingress.get(OUTPUT_URL, status=200, json=result(), headers={"x-restate-id": INVOCATION})
    ingress.post(
        f"{INGRESS}/promise/{INVOCATION}/status",
        json={
            "invocation_id": INVOCATION,
            "submitted_at": "2026-12-01T10:00:00Z",
            "phase": "done",
            "state": "SUCCEEDED",
            "elapsed_s": 1.5,
            "delivery": {"webhook_id": "msg_x", "callback_url": "https://x", "state": "gave_up"},
        },
    )
    ingress.get(OUTPUT_URL, status=200, json=result(), headers={"x-restate-id": INVOCATION})
    ingress.post(
        f"{INGRESS}/promise/{INVOCATION}/cancel",
        json={"outcome": "already_ended", "message": "ended", "state": "SUCCEEDED"},
    )
    ingress.get(OUTPUT_URL, status=200, json=result(), headers={"x-restate-id": INVOCATION})
    ingress.post(f"{INGRESS}/promise/{INVOCATION}/redeliver", status=400, json={"message": "no"})
    with client(FakeTime()) as promises:
        status = promises.status(KEY)
        assert status.phase == "done" and status.delivery and status.delivery.state == "gave_up"
        assert promises.cancel(KEY, "x").outcome == "already_ended"
        with pytest.raises(Refused, match="HTTP 400"):
            promises.redeliver(KEY)
    assert json.loads(ingress.calls[3].request.body or b"") == {"reason": "x"}


def test_status_right_after_a_send_waits_for_the_promise_to_begin(
    ingress: responses.RequestsMock,
) -> None:
    # The key is known (its query/query runs), but the promise begins only once the request
    # is checked and planned: its first 404s mean "not begun yet", not "unknown".
    ingress.get(OUTPUT_URL, status=470, json={"message": "not completed"})
    ingress.post(f"{INGRESS}/query/query/send", json={"invocationId": INVOCATION})
    status_url = f"{INGRESS}/promise/{INVOCATION}/status"
    ingress.post(status_url, status=404, json={"message": "No promise"})
    ingress.post(status_url, status=404, json={"message": "No promise"})
    accepted = {
        "phase": "accepted",
        "invocation_id": INVOCATION,
        "submitted_at": "2026-12-01T10:00:00Z",
        "elapsed_s": 0.1,
    }
    ingress.post(status_url, json=accepted)
    fake = FakeTime()
    with client(fake) as promises:
        assert promises.status(KEY).phase == "accepted"
    assert fake.sleeps == [0.25, 0.25]


# --- the async client: the same loop over aiohttp ------------------------------------------


async def test_the_async_client_backs_off_the_same_way(aiohttp_server: AiohttpServer) -> None:
    answers = [web.Response(status=503, text="busy"), web.json_response(result("FAILED"))]
    seen: list[web.Request] = []

    async def attach(request: web.Request) -> web.Response:
        seen.append(request)
        return answers.pop(0)

    app = web.Application()
    app.router.add_get("/restate/invocation/query/query/{key}/attach", attach)
    server = await aiohttp_server(app)
    fake, lines = FakeTime(), list[str]()
    async with AsyncClient(
        str(server.make_url("")),
        rng=random.Random(7),
        sleep=fake.async_sleep,
        clock=fake.clock,
        progress=lines.append,
    ) as promises:
        answer = await promises.attach(KEY)
    assert answer.state == "FAILED" and answer.received == json.dumps(result("FAILED")).encode()
    assert len(seen) == 2 and len(fake.sleeps) == 1
    assert (
        lines[1]
        == f"Attempt #1 failed: HTTP 503 busy. Backing off for {round(fake.sleeps[0] * 1000)}ms..."
    )
    # The same seed draws the same backoff as the sync client: one policy.
    assert fake.sleeps[0] == Backoff(random.Random(7)).delay(1)


async def test_the_async_client_says_the_ingress_is_unreachable() -> None:
    fake = FakeTime()
    async with AsyncClient(
        "http://127.0.0.1:9", max_connect_failures=2, sleep=fake.async_sleep, clock=fake.clock
    ) as promises:
        with pytest.raises(IngressUnreachable):
            await promises.attach(KEY)
    assert len(fake.sleeps) == 1


async def test_the_async_client_reports_a_timeout_like_the_poller(
    aiohttp_server: AiohttpServer,
) -> None:
    calls = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(2)
        return web.json_response(result())

    app = web.Application()
    app.router.add_post("/query/query", slow)
    server = await aiohttp_server(app)
    fake, lines = FakeTime(), list[str]()
    async with AsyncClient(
        str(server.make_url("")),
        timeout_s=0.5,
        sleep=fake.async_sleep,
        clock=fake.clock,
        progress=lines.append,
    ) as promises:
        assert (await promises.query("SELECT 1", key=KEY)).state == "SUCCEEDED"
    assert lines[1].startswith("Attempt #1 failed: timeout of 500ms exceeded. Backing off for ")


def test_list_needs_no_ingress_and_reads_the_admin_api(ingress: responses.RequestsMock) -> None:
    admin = "http://admin.test:9070"
    record = {
        "invocation_id": INVOCATION,
        "subject": "SELECT 1",
        "submitted_at": "2026-12-01T10:00:00Z",
        "phase": "running",
        "job_id": "qe-1",
        "job_state": "QUEUED",
        "webhook_id": "msg_" + INVOCATION,
    }
    answers = [
        {"rows": [{"id": INVOCATION, "idempotency_key": KEY}]},
        {"rows": [{"service_key": INVOCATION, "value_utf8": json.dumps(record)}]},
        {"rows": []},  # no promise came in by the direct entry
        {"rows": [{"service_key": "qe-1", "value_utf8": '"SUCCEEDED"'}]},
        {"rows": []},
    ]
    asked: list[str] = []

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        asked.append(json.loads(request.body)["query"])
        return 200, {}, json.dumps(answers.pop(0))

    ingress.add_callback(responses.POST, f"{admin}/query", callback=reply)
    (entry,) = Client(INGRESS, admin_url=admin).list()
    # Athena's final state, seen by the mailbox: the promise is reading the result.
    assert (entry.key, entry.phase, entry.athena_state) == (KEY, "fetching", "SUCCEEDED")
    assert entry.delivery == "pending"
    assert "sys_invocation" in asked[0] and "'record'" in asked[1] and "'qe-1'" in asked[3]
    assert "'queries'" in asked[2]
