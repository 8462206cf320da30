"""The HTTP app: Athena's JSON 1.1 endpoint at `POST /`, operator routes under `/_local/`,
and the result files at `GET /{bucket}/{key}` (S3's path style, signed links)."""

import json
import logging
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from botocore.credentials import Credentials
from pydantic import ValidationError

from infra.schema import find_tables

from .config import ConfigUpdate, LocalAthenaConfig
from .engine import QueryEngine
from .events import EventPublisher
from .executions import Executions
from .objects import BUCKET, result_object
from .operations import OPERATIONS, Athena
from .protocol import TARGET_PREFIX, AthenaServiceError, invalid_request, json_response
from .quotas import RateLimits
from .stats import CallStats

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", LocalAthenaConfig)
ATHENA = web.AppKey("athena", Athena)
STATS = web.AppKey("stats", CallStats)
EVENTS = web.AppKey("events", EventPublisher)
LIMITS = web.AppKey("limits", RateLimits)

routes = web.RouteTableDef()


def create_app(config: LocalAthenaConfig) -> web.Application:
    app = web.Application()
    app[CONFIG] = config
    app[STATS] = CallStats()
    app[LIMITS] = RateLimits()
    app.add_routes(routes)
    # Result files over S3's GetObject/HeadObject (AWS_ENDPOINT_URL_S3), for presigned links.
    app.router.add_get(f"/{{bucket:{BUCKET}}}/{{key:.+}}", result_file)
    app.cleanup_ctx.append(_athena_service)
    return app


async def _athena_service(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    engine = QueryEngine(config.data_dir, find_tables(config.data_dir))
    async with aiohttp.ClientSession() as session:
        events = app[EVENTS] = EventPublisher(config, session)
        executions = Executions(config, engine, events)
        app[ATHENA] = Athena(executions, engine)
        yield
        await executions.close()
        await events.close()


@routes.post("/")
async def athena_endpoint(request: web.Request) -> web.Response:
    request_id = str(uuid.uuid4())
    try:
        operation = _operation(request)
        request.app[STATS].calls[operation] += 1
        limited = not request.app[LIMITS].admit(operation, request.app[CONFIG])
        if limited or random.random() < request.app[CONFIG].throttle_rate:
            request.app[STATS].throttled[operation] += 1
            raise AthenaServiceError(
                "TooManyRequestsException",
                "Rate exceeded",
                Reason="CONCURRENT_QUERY_LIMIT_EXCEEDED",
            )
        body = await _json_object(request)
        answer = await OPERATIONS[operation](request.app[ATHENA], body)
        return json_response(answer, request_id)
    except AthenaServiceError as error:
        return error.to_response(request_id)
    except Exception:  # still an AWS-shaped answer, so the client sees a ClientError, not a hang
        log.exception("internal error in request %s", request_id)
        internal = AthenaServiceError("InternalServerException", "Internal error", status=500)
        return internal.to_response(request_id)


def _operation(request: web.Request) -> str:
    target = request.headers.get("X-Amz-Target", "")
    operation = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or operation not in OPERATIONS:
        raise AthenaServiceError(
            "UnknownOperationException",
            f"Unknown operation {target!r}: this endpoint serves AmazonAthena."
            + ", AmazonAthena.".join(OPERATIONS),
        )
    return operation


async def _json_object(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise invalid_request(f"The request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    return body


async def result_file(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    credentials = Credentials(config.s3_access_key_id, config.s3_secret_access_key)
    return result_object(request, config.results_dir, credentials)


@routes.get("/_local/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/_local/stats")
async def stats(request: web.Request) -> web.Response:
    executions = request.app[ATHENA].executions.all()
    given_up = request.app[EVENTS].delivery.given_up
    report = request.app[STATS].report(executions, given_up)
    report["engine_runs"] = request.app[ATHENA].executions.engine_runs
    return web.json_response(report)


@routes.get("/_local/held")
async def held(request: web.Request) -> web.Response:
    return web.json_response({"held": request.app[ATHENA].executions.held})


@routes.post("/_local/release")
async def release(request: web.Request) -> web.Response:
    """Queries started with the `hold` hint finish now, all together."""
    released = request.app[ATHENA].executions.release_held()
    return web.json_response({"released": released})


@routes.get("/_local/config")
async def show_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONFIG].model_dump(mode="json"))


@routes.post("/_local/config")
async def update_config(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    try:
        ConfigUpdate.model_validate_json(await request.text()).apply_to(config)
    except ValidationError as error:
        return web.json_response({"error": str(error)}, status=400)
    log.info("config updated: %s", config.model_dump(mode="json"))
    return web.json_response(config.model_dump(mode="json"))
