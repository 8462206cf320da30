"""`python -m tests.serving_support PORT SERVER`: an echo endpoint served as the service is.

`service.serving.serve` with SERVER (granian or hypercorn) on PORT, serving a small ASGI app
that answers each request body chunk with a chunk of its own while the request is still open
(what Restate's bidirectional HTTP/2 streams need), and `GET /health` over HTTP/1.1.
Like the SDK, the app joins the SIGTERM hook on its first request.
"""

import asyncio
import signal
import sys
from typing import Any

import uvloop
from restate.server import install_shutdown_hook

from service.serving import HttpServer, serve

Scope = dict[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":  # hypercorn asks; granian serves without it
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    # The SDK installs its SIGTERM hook on the first request: so does this app.
    install_shutdown_hook(asyncio.get_running_loop(), lambda: None, signal.SIGTERM)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/health":
        await send({"type": "http.response.body", "body": b"ok"})
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if message.get("body"):
            reply = b"pong " + message["body"]
            await send({"type": "http.response.body", "body": reply, "more_body": True})
        if not message.get("more_body"):
            break
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    port, server = int(sys.argv[1]), sys.argv[2]
    assert server in ("granian", "hypercorn"), server
    http_server: HttpServer = "granian" if server == "granian" else "hypercorn"
    uvloop.run(serve(echo_app, "127.0.0.1", port, http_server))
