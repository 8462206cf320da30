"""The local Lambda endpoint on its own: Lambda's Invoke API, limits and error shapes.

The workers run `handler` below (a real worker process imports this module), so each
Lambda behaviour is shown without Restate: a result with its context, a raised error, a
crash, a timeout, a throttle beyond the reserved concurrency.
"""

import asyncio
import json
import os
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from infra.local.lambda_endpoint import EndpointConfig, create_app, lambda_cost
from infra.local.lambda_endpoint.functions import UnknownFunction, resolve
from infra.local.lambda_endpoint.wiring import function_arn, registration

HANDLER = f"{__name__}:handler"
INVOKE = "/2015-03-31/functions/{}/invocations"


def handler(event: dict[str, Any], context: Any) -> Any:
    """What the workers run: the event says what to do."""
    action = event.get("action", "echo")
    if action == "raise":
        raise ValueError("the handler raised")
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
    return {
        "event": event,
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "pid": os.getpid(),
        "lambda_env": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
    }


def config(**overrides: Any) -> EndpointConfig:
    return EndpointConfig(
        functions=("athena-promise", "other"), handler=HANDLER, **{"timeout_s": 30, **overrides}
    )


async def invoke(
    client: TestClient, event: Any, name: str = function_arn(), **headers: str
) -> tuple[int, dict[str, str], Any]:
    response = await client.post(INVOKE.format(name), data=json.dumps(event), headers=headers)
    body = await response.read()
    return response.status, dict(response.headers), json.loads(body) if body else None


async def stats(client: TestClient) -> dict[str, Any]:
    response = await client.get("/_local/stats")
    return dict(await response.json())


def test_function_names_resolve_as_lambda_reads_them() -> None:
    endpoint = config()
    assert resolve(endpoint, function_arn()).qualifier == "1"
    assert resolve(endpoint, "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aother")
    assert (
        resolve(endpoint, "123456789012:function:athena-promise:$LATEST").name == "athena-promise"
    )
    assert resolve(endpoint, "athena-promise", "live").qualifier == "live"
    assert resolve(endpoint, "athena-promise:7").executed_version == "7"
    assert resolve(endpoint, "athena-promise:live").executed_version == "$LATEST"
    for unknown in (
        "missing",
        function_arn(region="eu-west-1"),
        function_arn(account="210987654321"),
        "arn:aws:s3:us-east-1:123456789012:function:athena-promise",
    ):
        with pytest.raises(UnknownFunction, match="Function not found"):
            resolve(endpoint, unknown)
    with pytest.raises(UnknownFunction, match="does not match"):
        resolve(endpoint, "athena-promise:1", "2")


def test_settings_keep_lambda_bounds() -> None:
    with pytest.raises(ValueError, match="at most 900"):
        config(timeout_s=901)
    with pytest.raises(ValueError, match="at least 1"):
        config(concurrency=0)
    with pytest.raises(ValueError, match="function name"):
        EndpointConfig(functions=())


def test_registration_body_names_the_version_arn() -> None:
    assert registration(function_arn()) == {
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:athena-promise:1",
        "force": False,
    }
    role = "arn:aws:iam::123456789012:role/restate-invoker"
    assert registration(function_arn(), role)["assume_role_arn"] == role


async def test_an_event_runs_the_handler_with_a_lambda_context(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(config()))
    status, headers, body = await invoke(client, {"path": "/discover"})
    assert status == 200
    assert headers["X-Amz-Executed-Version"] == "1"
    assert "X-Amz-Function-Error" not in headers
    assert body["event"] == {"path": "/discover"}
    assert body["function_name"] == body["lambda_env"] == "athena-promise"
    assert body["invoked_function_arn"] == function_arn()
    assert body["aws_request_id"] == headers["x-amzn-RequestId"]
    assert 0 < body["remaining_ms"] <= 30_000
    # The same warm worker takes the next event: one cold start for two invocations.
    _, _, second = await invoke(client, {"path": "/invoke/x/y"})
    assert second["pid"] == body["pid"]
    counters = await stats(client)
    assert (counters["invocations"], counters["cold_starts"], counters["errors"]) == (2, 1, 0)
    assert counters["billed_ms"] >= 2 and counters["in_flight"] == 0


async def test_a_raised_error_is_an_unhandled_function_error(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(config()))
    status, headers, body = await invoke(client, {"action": "raise"})
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "the handler raised"
    assert body["stackTrace"]


async def test_a_crash_fails_that_invocation_only(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(config()))
    _, _, before = await invoke(client, {})
    crashed, slow = await asyncio.gather(
        invoke(client, {"action": "exit"}), invoke(client, {"action": "sleep", "seconds": 1})
    )
    status, headers, body = crashed
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]
    assert slow[0] == 200 and "X-Amz-Function-Error" not in slow[1]
    _, _, after = await invoke(client, {})
    assert after["pid"] != before["pid"] or after["pid"] == slow[2]["pid"]
    counters = await stats(client)
    assert counters["crashes"] == 1 and counters["errors"] == 1


async def test_a_timeout_ends_the_invocation_with_lambdas_error(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(config(timeout_s=1)))
    await invoke(client, {})  # warm, so the init does not count
    started = time.monotonic()
    status, headers, body = await invoke(client, {"action": "sleep", "seconds": 30})
    assert time.monotonic() - started < 5
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert (await invoke(client, {}))[0] == 200  # a new environment serves the next call
    counters = await stats(client)
    assert counters["timeouts"] == 1 and counters["cold_starts"] == 2


async def test_calls_beyond_the_reserved_concurrency_are_throttled(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(config(concurrency=1)))
    slow = asyncio.create_task(invoke(client, {"action": "sleep", "seconds": 2}))
    while (await stats(client))["in_flight"] == 0:
        await asyncio.sleep(0.05)
    status, headers, body = await invoke(client, {})
    assert status == 429 and headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    running = (await stats(client))["running"]
    assert [call["worker_pid"] is not None for call in running] == [True]
    # Another function has its own reserved concurrency.
    assert (await invoke(client, {}, name="other"))[0] == 200
    assert (await slow)[0] == 200
    counters = await stats(client)
    assert counters["throttles"] == 1 and counters["peak_concurrency"] == 1


async def test_unknown_functions_dry_runs_and_bad_payloads(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(config()))
    status, headers, body = await invoke(client, {}, name="missing")
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert body["message"].startswith("Function not found: arn:aws:lambda:")
    response = await client.post(
        INVOKE.format("athena-promise"), data="{}", headers={"X-Amz-Invocation-Type": "DryRun"}
    )
    assert response.status == 204
    response = await client.post(INVOKE.format("athena-promise"), data="{not json")
    assert response.status == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    response = await client.post(INVOKE.format("athena-promise"), data=b"x" * (6 * 1024 * 1024 + 1))
    assert response.status == 413
    assert (await stats(client))["invocations"] == 0


def test_cost_per_query_is_the_difference_of_two_snapshots() -> None:
    before = {"invocations": 10, "billed_ms": 100, "init_ms": 500.0, "throttles": 0, "errors": 0}
    after = {"invocations": 110, "billed_ms": 1100, "init_ms": 500.0, "throttles": 2, "errors": 1}
    cost = lambda_cost(before, after, queries=10)
    assert cost.invocations_per_query == 10 and cost.billed_ms_per_query == 100
    assert (cost.init_ms_per_query, cost.throttles, cost.errors) == (0, 2, 1)
    # 10 requests and 0.1 s at 0.5 GB per query, times 1000 queries.
    assert cost.usd_per_1000_queries == pytest.approx(
        10 * 0.2e-6 * 1000 + 0.05 * 0.0000133334 * 1000
    )
    assert "10.0 invocations/query, 100 billed ms/query" in cost.row()
    with pytest.raises(ValueError):
        lambda_cost(before, after, queries=0)
