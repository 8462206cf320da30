"""The webhook receiver: POST /callback verifies and stores; GET /deliveries shows what came."""

import asyncio
import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from listener.faults import CallbackStats, FaultPlan
from listener.page import REJECTIONS, add_page
from listener.report import delivery_line
from listener.settings import ListenerSettings
from listener.store import Delivery, DeliveryStore
from webhooks.keys import SigningKeys
from webhooks.signature import SignatureError, VerifiedWebhook, verify

SETTINGS = web.AppKey("settings", ListenerSettings)
SIGNING_KEYS = web.AppKey("signing_keys", SigningKeys)
STORE = web.AppKey("store", DeliveryStore)
FAULTS = web.AppKey("faults", FaultPlan)
STATS = web.AppKey("stats", CallbackStats)

routes = web.RouteTableDef()


def create_app(settings: ListenerSettings, faults: FaultPlan | None = None) -> web.Application:
    """The listener; `faults` makes POST /callback fail on purpose (tests of the sender only)."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[SIGNING_KEYS] = settings.signing_keys
    app[STATS] = CallbackStats()
    if faults is not None:
        app[FAULTS] = faults
    app.cleanup_ctx.append(_delivery_store)
    app.add_routes(routes)
    # GET /: the deliveries as they arrive, each beside the same promise pulled by its id.
    add_page(app, STORE, settings.ingress)
    return app


async def _delivery_store(app: web.Application) -> AsyncIterator[None]:
    app[STORE] = await asyncio.to_thread(DeliveryStore, app[SETTINGS].store)
    yield
    await asyncio.to_thread(app[STORE].close)


@routes.post("/callback")
async def receive_callback(request: web.Request) -> web.Response:
    response = await _answer_callback(request)
    request.app[STATS].count(response.status)
    return response


async def _answer_callback(request: web.Request) -> web.Response:
    faults = request.app.get(FAULTS)
    if faults is not None and (status := faults.next_fault()) is not None:
        return _injected_fault(status, faults.retry_after_s)

    settings = request.app[SETTINGS]
    too_large = _error(413, f"body larger than {settings.max_body_bytes} bytes")
    if (request.content_length or 0) > settings.max_body_bytes:
        return too_large
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return too_large

    try:
        verified = verify(
            request.app[SIGNING_KEYS], request.headers, body, tolerance_s=settings.tolerance_s
        )
    except SignatureError as error:
        print(f"rejected: {error.reason}", file=sys.stderr, flush=True)
        request.app[REJECTIONS].add(request.headers, error.reason)
        return _error(401, error.reason)
    try:
        result = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "body is not JSON")
    if not isinstance(result, dict):
        return _error(400, "body is not a JSON object")

    received_at = datetime.now(UTC)
    delivery = _delivery(verified, request.headers, body, result, received_at)
    try:
        attempts = await asyncio.to_thread(request.app[STORE].record, delivery)
    except sqlite3.Error as error:
        # 503 so the sender retries: nothing was acknowledged.
        return _error(503, f"could not store the delivery: {error}")

    answer = {"webhook_id": verified.webhook_id, "attempts": attempts}
    if attempts > 1:
        print(f"duplicate {verified.webhook_id} attempt {attempts}", file=sys.stderr, flush=True)
        return web.json_response({"status": "duplicate", **answer})
    request.app[STATS].stored += 1
    print(delivery_line(verified.webhook_id, result, received_at), flush=True)
    return web.json_response({"status": "stored", **answer})


@routes.get("/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(request.app[STORE].all_deliveries))


# Registered before /deliveries/{webhook_id} so that it is not taken for a webhook id.
@routes.get("/deliveries/_stats")
async def callback_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS].as_json())


@routes.get("/deliveries/{webhook_id}")
async def show_delivery(request: web.Request) -> web.Response:
    webhook_id = request.match_info["webhook_id"]
    delivery = await asyncio.to_thread(request.app[STORE].delivery, webhook_id)
    if delivery is None:
        return _error(404, f"no delivery with webhook-id {webhook_id}")
    return web.json_response(delivery)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _delivery(
    verified: VerifiedWebhook,
    headers: Mapping[str, str],
    body: bytes,
    result: dict[str, Any],
    received_at: datetime,
) -> Delivery:
    row_count = result.get("row_count")
    return Delivery(
        webhook_id=verified.webhook_id,
        webhook_timestamp=verified.timestamp,
        webhook_signature=headers["webhook-signature"],
        content_type=headers.get("content-type"),
        body=body,
        state=_text(result.get("state")),
        query_execution_id=_text(result.get("query_execution_id")),
        row_count=row_count if type(row_count) is int else None,
        received_at=received_at.isoformat(),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _injected_fault(status: int, retry_after_s: int | None) -> web.Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return web.json_response({"error": f"injected fault {status}"}, status=status, headers=headers)


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)
