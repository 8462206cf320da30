"""The HTTP app: Lambda's Invoke API, and operator routes under `/_local/`."""

import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from . import shapes
from .config import EndpointConfig
from .functions import UnknownFunction, resolve
from .pool import FunctionPool, Throttled
from .stats import InFlight, report

log = logging.getLogger("lambda")

CONFIG = web.AppKey("config", EndpointConfig)
POOLS = web.AppKey("pools", dict[str, FunctionPool])

routes = web.RouteTableDef()


def create_app(config: EndpointConfig) -> web.Application:
    app = web.Application(client_max_size=shapes.MAX_REQUEST_BYTES * 2)
    app[CONFIG] = config
    app[POOLS] = {name: function_pool(config, name) for name in config.functions}
    app.add_routes(routes)
    app.cleanup_ctx.append(_close_workers)
    return app


def function_env(config: EndpointConfig, name: str) -> dict[str, str]:
    """The endpoint's own environment, plus what Lambda sets for the function's runtime."""
    return {
        **os.environ,
        **config.worker_env,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{name}",
        "AWS_REGION": os.environ.get("AWS_REGION", config.region),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
    }


def function_pool(config: EndpointConfig, name: str) -> FunctionPool:
    return FunctionPool(
        name=name,
        handler=config.handler,
        env=function_env(config, name),
        concurrency=config.concurrency,
        timeout_s=config.timeout_s,
    )


async def _close_workers(app: web.Application) -> AsyncIterator[None]:
    yield
    for pool in app[POOLS].values():
        await pool.close()


@routes.post("/2015-03-31/functions/{function}/invocations")
async def invoke(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    request_id = str(uuid.uuid4())
    try:
        target = resolve(config, request.match_info["function"], request.query.get("Qualifier"))
    except UnknownFunction as error:
        return shapes.not_found(str(error), request_id)
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type not in ("RequestResponse", "DryRun"):
        return shapes.invalid_parameter(
            f"The local endpoint runs RequestResponse and DryRun invocations, not "
            f"{invocation_type!r}.",
            request_id,
        )
    body = await request.read()
    if len(body) > shapes.MAX_REQUEST_BYTES:
        return shapes.too_large(request_id)
    try:
        event = json.loads(body) if body else {}
    except ValueError as error:
        return shapes.invalid_content(
            f"Could not parse request body into json: {error}", request_id
        )
    if invocation_type == "DryRun":
        return web.Response(status=204, headers={"x-amzn-RequestId": request_id})

    pool = request.app[POOLS][target.name]
    invocation = InFlight(request_id, target.name, _event_path(event))
    arn = config.function_arn(target.name) + (f":{target.qualifier}" if target.qualifier else "")
    job = {
        "request_id": request_id,
        "event": event,
        "invoked_function_arn": arn,
        "deadline_ms": int((time.time() + config.timeout_s) * 1000),
    }
    try:
        outcome = await pool.invoke(invocation, job)
    except Throttled:
        log.info("THROTTLED RequestId: %s %s", request_id, invocation.path)
        return shapes.throttled(request_id)
    log.info(
        "REPORT RequestId: %s Path: %s Duration: %.2f ms Billed Duration: %d ms%s%s",
        request_id,
        invocation.path,
        outcome.duration_ms,
        outcome.billed_ms,
        f" Init Duration: {outcome.init_ms:.2f} ms" if outcome.init_ms is not None else "",
        f" Error: {outcome.error['errorType']}" if outcome.error else "",
    )
    if outcome.error is not None:
        return shapes.function_error(outcome.error, request_id, target.executed_version)
    assert outcome.payload is not None
    return shapes.function_result(outcome.payload, request_id, target.executed_version)


def _event_path(event: Any) -> str:
    return str(event.get("path", "")) if isinstance(event, dict) else ""


@routes.get("/_local/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/_local/stats")
async def stats(request: web.Request) -> web.Response:
    pools = request.app[POOLS]
    in_flight = [invocation for pool in pools.values() for invocation in pool.running.values()]
    return web.json_response(report({name: pool.stats for name, pool in pools.items()}, in_flight))
