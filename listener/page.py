"""The page at /: each delivery as it arrives, its verdict, and the same promise pulled.

Plain HTML, CSS and JavaScript from this folder (nothing built, nothing fetched from
elsewhere); the script polls `GET /page/feed` and asks `GET /page/side-by-side/{webhook-id}`
once per delivery, which pulls the promise from the ingress and compares the bytes here.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from listener.pull import pull
from listener.rejections import RecentRejections
from listener.store import DeliveryStore

HERE = Path(__file__).parent
LISTED = 50
# Scripts, styles and requests from this origin only: no inline code, nothing from elsewhere.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
FILES = {
    "/": ("page.html", "text/html"),
    "/page/page.js": ("page.js", "text/javascript"),
    "/page/page.css": ("page.css", "text/css"),
}


@dataclass(frozen=True)
class Page:
    store: web.AppKey[DeliveryStore]
    ingress: str


PAGE = web.AppKey("page", Page)
REJECTIONS = web.AppKey("rejections", RecentRejections)
INGRESS_SESSION = web.AppKey("ingress_session", aiohttp.ClientSession)

routes = web.RouteTableDef()


def add_page(app: web.Application, store: web.AppKey[DeliveryStore], ingress: str) -> None:
    app[PAGE] = Page(store, ingress)
    app[REJECTIONS] = RecentRejections()
    app.cleanup_ctx.append(_ingress_session)
    for path in FILES:
        app.router.add_get(path, _static_file)
    app.add_routes(routes)


async def _ingress_session(app: web.Application) -> AsyncIterator[None]:
    app[INGRESS_SESSION] = aiohttp.ClientSession()
    yield
    await app[INGRESS_SESSION].close()


async def _static_file(request: web.Request) -> web.Response:
    name, content_type = FILES[request.path]
    text = await asyncio.to_thread((HERE / name).read_text, "utf-8")
    return web.Response(text=text, content_type=content_type, charset="utf-8", headers=HEADERS)


@routes.get("/page/feed")
async def feed(request: web.Request) -> web.Response:
    """The newest deliveries (all verified: nothing else is stored) and recent rejections."""
    store = request.app[request.app[PAGE].store]
    listed = await asyncio.to_thread(store.newest, LISTED)
    deliveries = [{**delivery, "verdict": "verified"} for delivery in listed]
    rejections = request.app[REJECTIONS].newest()
    return web.json_response(
        {"deliveries": deliveries, "rejections": rejections, "ingress": request.app[PAGE].ingress},
        headers=HEADERS,
    )


@routes.get("/page/side-by-side/{webhook_id}")
async def side_by_side(request: web.Request) -> web.Response:
    """The pushed body and the pulled one, and whether they are the same bytes."""
    page = request.app[PAGE]
    webhook_id = request.match_info["webhook_id"]
    delivery = await asyncio.to_thread(request.app[page.store].delivery, webhook_id)
    if delivery is None:
        return web.json_response(
            {"error": f"no delivery with webhook-id {webhook_id}"}, status=404, headers=HEADERS
        )
    pushed = delivery["body"].encode("utf-8")
    pulled = await pull(request.app[INGRESS_SESSION], page.ingress, webhook_id)
    answer: dict[str, Any] = {
        "webhook_id": webhook_id,
        "verdict": "verified",
        "pushed": delivery["body"],
        "pushed_bytes": len(pushed),
        "pull_url": pulled.url,
        "pull_status": pulled.status,
        "pull_problem": pulled.problem,
        "final": pulled.final,
        "pulled": None,
        "pulled_bytes": None,
        "equal": None,
    }
    if pulled.body is not None:
        answer["pulled"] = pulled.body.decode("utf-8", errors="replace")
        answer["pulled_bytes"] = len(pulled.body)
        answer["equal"] = pulled.body == pushed
    return web.json_response(answer, headers=HEADERS)
