"""Athena's JSON API called on the event loop: botocore's own parts over aiohttp's connections.

botocore serialises each request, signs it (SigV4 with the session's credentials), parses the
answer and its errors into the same dicts and `ClientError`s a boto3 client returns, and
decides which failures to retry and how long to wait (its standard retry mode). What is left
out is a boto3 client's per-call pipeline: its event hooks, the endpoint rules resolved again
for every call, parameter validation, and urllib3 in a thread of a pool. That cost the service
about 1.7 ms of CPU a call more than this, three calls a query (docs/benchmarks.md, "The ninth
round"). The endpoint, region and credentials are resolved once, by botocore itself, so
`AWS_ENDPOINT_URL_ATHENA`, FIPS and dual-stack settings and every credential source work as
they do for boto3. No Restate here.
"""

import asyncio
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import botocore
import botocore.session
from botocore import parsers, serialize
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.model import OperationModel
from botocore.retries import standard
from botocore.utils import get_environ_proxies

from service.athena.telemetry import count_request
from service.promisify.connections import LoopSessions

USER_AGENT = f"athena-durable-promise botocore/{botocore.__version__}"


class _Answer:
    """What botocore's retry checks read of an HTTP answer."""

    def __init__(self, status_code: int, headers: Any) -> None:
        self.status_code, self.headers = status_code, headers


Attempt = tuple[_Answer | None, dict[str, Any] | None, Exception | None]


class AthenaTransport:
    """Calls to one Athena endpoint, as `call("GetQueryExecution", {...})`."""

    def __init__(
        self,
        region: str,
        *,
        max_connections: int,
        max_attempts: int,
        connect_timeout_s: float,
        read_timeout_s: float,
        session: botocore.session.Session | None = None,
    ) -> None:
        self._session = session or botocore.session.get_session()
        # The client is never called: it is how botocore resolves the endpoint and the model.
        never_called = self._session.create_client("athena", region_name=region)
        meta = never_called.meta
        self._model = meta.service_model
        if self._model.protocol != "json":
            raise ValueError(f"Athena's protocol is {self._model.protocol!r}, not json")
        self._url = meta.endpoint_url.rstrip("/")
        self._region = meta.region_name
        self._credentials: Credentials | None = None
        self._serializer = serialize.create_serializer("json", include_validation=False)
        self._parser = parsers.create_parser("json")
        self._retryable = standard.StandardRetryConditions(max_attempts=max_attempts)
        self._backoff = standard.ExponentialBackoff(service_name="athena")
        timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout_s, sock_read=read_timeout_s)

        # The certificates botocore would trust (AWS_CA_BUNDLE, a profile's ca_bundle), else
        # the system's; the proxy it would take from the environment (HTTPS_PROXY, NO_PROXY),
        # found once. aiohttp's `trust_env` would look it up again, and read ~/.netrc, in a
        # thread for every request: a tenth of the service's time under load.
        tls = ssl.create_default_context(cafile=self._session.get_config_variable("ca_bundle"))
        self._proxy = get_environ_proxies(self._url).get(urlsplit(self._url).scheme)

        def connect(_: None) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(limit=max_connections, ssl=tls)
            return aiohttp.ClientSession(connector=connector, timeout=timeout)

        self._connections: LoopSessions[None] = LoopSessions(connect)

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The operation's parsed answer, as the boto3 client's method returns it; its
        refusals as `ClientError`, a connection that failed as botocore's own errors."""
        model = self._model.operation_model(operation)  # botocore caches each
        attempt = 1
        while True:
            answer, parsed, error = await self._attempt(model, params)
            context = standard.RetryContext(
                attempt_number=attempt,
                operation_model=model,
                parsed_response=parsed,
                http_response=answer,
                caught_exception=error,
            )
            if not self._retryable.is_retryable(context):
                break
            await asyncio.sleep(self._backoff.delay_amount(context))
            attempt += 1
        if error is not None:
            raise error
        assert answer is not None and parsed is not None
        if answer.status_code >= 300:
            raise ClientError(parsed, operation)  # type: ignore[arg-type]
        return parsed

    async def _attempt(self, model: OperationModel, params: dict[str, Any]) -> Attempt:
        request = self._signed(model, params, await self._frozen_credentials())
        session = self._connections.get(None)
        try:
            async with session.post(
                str(request.url),
                data=request.body,
                headers=dict(request.headers.items()),
                proxy=self._proxy,
            ) as response:
                body = await response.read()
                answer = _Answer(response.status, response.headers)
        except (TimeoutError, aiohttp.ClientError) as error:
            count_request(model.name, None, None)
            return None, None, _as_botocores(error)(endpoint_url=self._url, error=error)
        raw = {"status_code": answer.status_code, "headers": answer.headers, "body": body}
        parsed = self._parser.parse(raw, model.output_shape)  # type: ignore[arg-type]
        parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = answer.status_code
        count_request(model.name, answer.status_code, parsed)
        return answer, parsed, None

    def _signed(
        self, model: OperationModel, params: dict[str, Any], credentials: ReadOnlyCredentials
    ) -> AWSRequest:
        serialized = self._serializer.serialize_to_request(params, model)
        headers = dict(serialized["headers"], **{"User-Agent": USER_AGENT})
        url = self._url + serialized["url_path"]
        request = AWSRequest(method="POST", url=url, data=serialized["body"], headers=headers)
        SigV4Auth(credentials, self._model.signing_name, self._region).add_auth(request)
        return request

    async def _frozen_credentials(self) -> ReadOnlyCredentials:
        if self._credentials is None:
            # Found once (the environment, a profile, the container's or instance's role).
            self._credentials = await asyncio.to_thread(self._session.get_credentials)
            if self._credentials is None:
                raise NoCredentialsError()
        credentials = self._credentials
        if isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed():
            # A refresh asks STS or the metadata endpoint, blocking: not on the event loop.
            return await asyncio.to_thread(credentials.get_frozen_credentials)
        return credentials.get_frozen_credentials()


def _as_botocores(error: BaseException) -> Callable[..., Exception]:
    """The botocore error a boto3 client raises for this failure, which its retry rules know."""
    if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
        return ReadTimeoutError
    if isinstance(error, aiohttp.ClientConnectorError):
        return EndpointConnectionError
    return ConnectionClosedError
