"""The Athena transport against real HTTP servers on loopback: what it sends is signed as
AWS checks it (botocore's SigV4 as the verifier), refusals and throttles are botocore's,
calls run side by side, and credentials are refreshed off the event loop."""

import asyncio
import json
import re
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    RefreshableCredentials,
)
from botocore.exceptions import ClientError, EndpointConnectionError

from infra.local.ports import free_port
from service.athena.client import CONCURRENT_CALLS, AthenaQueries, AthenaRequestRejected
from service.athena.telemetry import athena_requests
from service.athena.transport import AthenaTransport
from service.settings import from_environment

pytestmark = pytest.mark.usefixtures("kept_connections")

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
KEY, SECRET, TOKEN = "AKIDEXAMPLE", "secret-example", "session-token-example"
EXECUTION = {"QueryExecution": {"QueryExecutionId": "qe-1", "Status": {"State": "SUCCEEDED"}}}
_AUTH = re.compile(r"Credential=([^/]+)/[^,]+, SignedHeaders=([^,]+), Signature=([0-9a-f]+)")


class Received:
    """What the server was sent, and whether its SigV4 signature holds for those bytes."""

    def __init__(self, request: web.Request, body: bytes) -> None:
        self.target = request.headers.get("X-Amz-Target")
        self.content_type = request.headers.get("Content-Type")
        self.body = body
        self.token = request.headers.get("X-Amz-Security-Token")
        match = _AUTH.search(request.headers.get("Authorization", ""))
        assert match, request.headers.get("Authorization")
        self.key, signed, self.signature = match.groups()
        # Only what was signed, rebuilt from what arrived: a header or body altered on the
        # way, or the host, would give another signature.
        headers = {name: request.headers[name] for name in signed.split(";") if name != "host"}
        self._request = AWSRequest(request.method, str(request.url), headers, body)
        self._request.context["timestamp"] = request.headers["X-Amz-Date"]

    def signed_with(self, secret: str, token: str | None) -> bool:
        auth = SigV4Auth(Credentials(self.key, secret, token), "athena", "us-east-1")
        canonical = auth.canonical_request(self._request)
        return auth.signature(auth.string_to_sign(self._request, canonical), self._request) == (
            self.signature
        )


def athena_app(received: list[Received], answer: Callable[[int], web.Response]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        received.append(Received(request, await request.read()))
        return answer(len(received))

    app = web.Application()
    app.router.add_post("/", handle)
    return app


def ok(_: int) -> web.Response:
    return web.json_response(EXECUTION, content_type="application/x-amz-json-1.1")


def refusal(code: str, status: int = 400) -> web.Response:
    body = {"__type": code, "Message": f"{code} from the test server"}
    return web.json_response(body, status=status, content_type="application/x-amz-json-1.1")


def always(code: str) -> Callable[[int], web.Response]:
    return lambda _: refusal(code)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", TOKEN),
    ):
        monkeypatch.setenv(name, value)


def transport_to(url: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> AthenaTransport:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", url)
    settings = dict(max_connections=CONCURRENT_CALLS, max_attempts=3, connect_timeout_s=2)
    return AthenaTransport("us-east-1", **(settings | {"read_timeout_s": 5} | options))


async def athena_at(
    aiohttp_server: ServerFactory,
    answer: Callable[[int], web.Response],
    monkeypatch: pytest.MonkeyPatch,
    **options: Any,
) -> tuple[list[Received], AthenaTransport]:
    """A test server that answers the n-th request with `answer(n)`, and a transport to it."""
    received: list[Received] = []
    server = await aiohttp_server(athena_app(received, answer))
    return received, transport_to(str(server.make_url("/")).rstrip("/"), monkeypatch, **options)


def without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def count(operation: str, outcome: str) -> float:
    return athena_requests.labels(operation, outcome)._value.get()


@pytest.mark.usefixtures("credentials")
async def test_a_call_is_signed_as_aws_verifies_it_and_parsed_as_boto3_parses_it(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[Received] = []
    server = await aiohttp_server(athena_app(received, ok))
    url = str(server.make_url("/")).rstrip("/")
    ours = await transport_to(url, monkeypatch).call(
        "GetQueryExecution", {"QueryExecutionId": "qe-1"}
    )
    client = boto3.client("athena", region_name="us-east-1", endpoint_url=url)
    theirs = await asyncio.to_thread(client.get_query_execution, QueryExecutionId="qe-1")
    mine, boto3s = received
    assert mine.signed_with(SECRET, TOKEN) and boto3s.signed_with(SECRET, TOKEN)
    assert not mine.signed_with("another-secret", TOKEN)  # the check can fail
    assert (mine.key, mine.token) == (KEY, TOKEN)
    assert (mine.target, mine.content_type) == (boto3s.target, boto3s.content_type)
    assert json.loads(mine.body) == json.loads(boto3s.body) == {"QueryExecutionId": "qe-1"}
    assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert without_metadata(ours) == without_metadata(dict(theirs)) == EXECUTION


@pytest.mark.usefixtures("credentials")
async def test_a_refusal_is_final_at_once_and_names_athenas_code(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse = always("InvalidRequestException")
    received, transport = await athena_at(aiohttp_server, refuse, monkeypatch)
    queries = AthenaQueries(from_environment({}), transport=transport)
    with pytest.raises(AthenaRequestRejected) as refused:
        await queries.describe("qe-1")
    assert refused.value.code == "InvalidRequestException"
    assert refused.value.status_code == 400
    assert "from the test server" in str(refused.value)
    assert len(received) == 1  # not retried


@pytest.mark.usefixtures("credentials")
async def test_throttling_is_retried_and_each_request_counted(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled_twice(n: int) -> web.Response:
        return refusal("TooManyRequestsException") if n <= 2 else ok(n)

    received, transport = await athena_at(aiohttp_server, throttled_twice, monkeypatch)
    throttled, fine = count("GetQueryExecution", "throttled"), count("GetQueryExecution", "ok")
    answer = await transport.call("GetQueryExecution", {"QueryExecutionId": "qe-1"})
    assert answer["QueryExecution"]["QueryExecutionId"] == "qe-1"
    assert len(received) == 3
    assert count("GetQueryExecution", "throttled") - throttled == 2
    assert count("GetQueryExecution", "ok") - fine == 1


@pytest.mark.usefixtures("credentials")
async def test_throttling_that_lasts_ends_in_athenas_error(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttle = always("TooManyRequestsException")
    received, transport = await athena_at(aiohttp_server, throttle, monkeypatch, max_attempts=2)
    with pytest.raises(ClientError) as error:
        await transport.call("GetQueryExecution", {"QueryExecutionId": "qe-1"})
    assert error.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(received) == 2


@pytest.mark.usefixtures("credentials")
async def test_an_endpoint_that_does_not_answer_is_botocores_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = transport_to(f"http://127.0.0.1:{free_port()}", monkeypatch)
    networked = count("GetQueryExecution", "network")
    with pytest.raises(EndpointConnectionError):
        await transport.call("GetQueryExecution", {"QueryExecutionId": "qe-1"})
    assert count("GetQueryExecution", "network") - networked == 3  # retried, then given up


@pytest.mark.usefixtures("credentials")
async def test_calls_run_side_by_side_up_to_the_pool(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call waits on the network for 50 to 300 ms: the server answers only once
    CONCURRENT_CALLS of them wait at the same time, so a smaller pool would time out."""
    waiting = 0
    all_in = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        nonlocal waiting
        await request.read()
        waiting += 1
        if waiting == CONCURRENT_CALLS:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), timeout=10)
        return ok(waiting)

    app = web.Application()
    app.router.add_post("/", handle)
    server = await aiohttp_server(app)
    transport = transport_to(str(server.make_url("/")).rstrip("/"), monkeypatch, max_attempts=1)
    queries = AthenaQueries(from_environment({}), transport=transport)
    statuses = await asyncio.gather(*(queries.describe("qe-1") for _ in range(CONCURRENT_CALLS)))
    assert [status.state for status in statuses] == ["SUCCEEDED"] * CONCURRENT_CALLS


async def test_credentials_about_to_expire_are_refreshed_off_the_event_loop(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    refreshed_in: list[int] = []

    def refresh() -> dict[str, str]:
        refreshed_in.append(threading.get_ident())
        expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return {
            "access_key": "AKIDNEW",
            "secret_key": SECRET,
            "token": TOKEN,
            "expiry_time": expiry,
        }

    soon = datetime.now(UTC) + timedelta(seconds=30)  # within botocore's advisory 15 minutes
    expiring = RefreshableCredentials(KEY, SECRET, TOKEN, soon, refresh, method="test")

    class Role(CredentialProvider):  # what a container's or an instance's role gives
        def load(self) -> RefreshableCredentials:
            return expiring

    session = botocore.session.get_session()
    session.register_component("credential_provider", CredentialResolver([Role()]))
    received, transport = await athena_at(aiohttp_server, ok, monkeypatch, session=session)
    await transport.call("GetQueryExecution", {"QueryExecutionId": "qe-1"})
    assert refreshed_in and loop_thread not in refreshed_in
    assert received[0].key == "AKIDNEW" and received[0].signed_with(SECRET, TOKEN)


@pytest.mark.usefixtures("credentials")
async def test_the_environments_proxy_is_taken_as_botocore_takes_it(
    aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY (or HTTPS_PROXY for https) carries the calls, unless NO_PROXY names the
    endpoint: the proxy, a test server, sees the endpoint's absolute URL."""
    proxied: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        proxied.append(str(request.url))
        await request.read()
        return ok(len(proxied))

    app = web.Application()
    app.router.add_post("/", proxy)
    server = await aiohttp_server(app)
    monkeypatch.setenv("HTTP_PROXY", str(server.make_url("/")))
    endpoint = "http://athena.proxied.invalid"  # resolvable only by the proxy
    answer = await transport_to(endpoint, monkeypatch).call(
        "GetQueryExecution", {"QueryExecutionId": "qe-1"}
    )
    assert answer["QueryExecution"]["QueryExecutionId"] == "qe-1"
    assert proxied == [f"{endpoint}/"]
    monkeypatch.setenv("NO_PROXY", "athena.proxied.invalid")
    with pytest.raises(EndpointConnectionError):  # straight to a name nobody resolves
        await transport_to(endpoint, monkeypatch, max_attempts=1).call(
            "GetQueryExecution", {"QueryExecutionId": "qe-1"}
        )
    assert len(proxied) == 1
