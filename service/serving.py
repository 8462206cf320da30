"""Serve a Restate endpoint (the SDK's ASGI app) with hypercorn on uvloop, for any deployment."""

import asyncio
import logging
import os
import signal
from typing import cast

import hypercorn
import hypercorn.asyncio
from hypercorn.typing import ASGIFramework
from restate.server import install_shutdown_hook

# Restate holds its HTTP/2 connections open, so a graceful close can wait forever. Every
# invocation is journaled: whatever a stop cuts short, Restate retries, here or on a replica.
SHUTDOWN_GRACE_S = 2.0


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(app: object, bind: str) -> None:
    """Serve a Restate endpoint (the SDK's ASGI app) on `bind` until SIGTERM or SIGINT."""
    # The SDK types its app as Any; it is an ASGI 3 callable, which is what hypercorn takes.
    asgi_app = cast(ASGIFramework, app)
    config = hypercorn.Config()
    config.bind = [bind]
    config.graceful_timeout = SHUTDOWN_GRACE_S
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The SDK takes SIGTERM for itself (it tells running invocations to wind down); join its
    # hooks rather than replace them, or the process would never stop.
    install_shutdown_hook(loop, stopping.set, signal.SIGTERM)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    # Restate talks HTTP/2 to the endpoint; hypercorn serves h2c on the same port.
    server = asyncio.create_task(
        hypercorn.asyncio.serve(asgi_app, config, shutdown_trigger=stopping.wait)
    )
    await asyncio.wait(
        {server, asyncio.create_task(stopping.wait())}, return_when="FIRST_COMPLETED"
    )
    done, _ = await asyncio.wait({server}, timeout=SHUTDOWN_GRACE_S)
    if not done:
        logging.shutdown()
        os._exit(0)
