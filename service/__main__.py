"""`python -m service`: serve the Restate endpoint with hypercorn."""

import asyncio
import logging
import os
import signal
import sys
from typing import cast

import hypercorn
import hypercorn.asyncio
import uvloop
from hypercorn.typing import ASGIFramework
from restate.server import install_shutdown_hook

from service.settings import Settings, SettingsError, settings

# Restate holds its HTTP/2 connections open, so a graceful close can wait forever. Every
# invocation is journaled: whatever a stop cuts short, Restate retries, here or on a replica.
SHUTDOWN_GRACE_S = 2.0


def bind_address(current: Settings) -> str:
    host = str(current.bind_host)
    return f"[{host}]:{current.port}" if ":" in host else f"{host}:{current.port}"


def identity_warning(current: Settings) -> str | None:
    """A line for stderr when anyone who reaches the port could call every handler."""
    if current.identity_keys or current.bind_host.is_loopback:
        return None
    return (
        f"warning: RESTATE_IDENTITY_KEYS is not set and the service listens on "
        f"{current.bind_host}: any caller that reaches port {current.port} can invoke every "
        "handler. Set RESTATE_IDENTITY_KEYS to the restate-server's publickeyv1_... key."
    )


def athena_app() -> object:
    # Imported here, once the settings are known to be good: the endpoint reads them.
    from service.app import app

    return app


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


def main() -> None:
    try:
        current = settings()  # read once here, so a bad value stops the start
    except SettingsError as error:
        sys.exit(f"error: {error}")
    warning = identity_warning(current)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    # uvloop: the same asyncio API, with the loop and sockets in C (measured in `make bench`).
    uvloop.run(serve(athena_app(), bind_address(current)))


if __name__ == "__main__":
    main()
