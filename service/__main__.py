"""`python -m service`: serve the Restate endpoint with hypercorn."""

import asyncio
import logging
import os
import signal
import sys

import hypercorn
import hypercorn.asyncio
from restate.server import install_shutdown_hook

from service.app import app
from service.settings import SettingsError, settings

# Restate holds its HTTP/2 connections open, so a graceful close can wait forever. Every
# invocation is journaled: whatever a stop cuts short, Restate retries, here or on a replica.
SHUTDOWN_GRACE_S = 2.0


async def serve() -> None:
    config = hypercorn.Config()
    config.bind = [f"0.0.0.0:{settings().port}"]
    config.graceful_timeout = SHUTDOWN_GRACE_S
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The SDK takes SIGTERM for itself (it tells running invocations to wind down); join its
    # hooks rather than replace them, or the process would never stop.
    install_shutdown_hook(loop, stopping.set, signal.SIGTERM)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    # Restate talks HTTP/2 to the endpoint; hypercorn serves h2c on the same port.
    server = asyncio.create_task(
        hypercorn.asyncio.serve(app, config, shutdown_trigger=stopping.wait)  # type: ignore[arg-type]
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
        settings()  # read once here, so a bad value stops the start, not every invocation
    except SettingsError as error:
        sys.exit(f"error: {error}")
    asyncio.run(serve())


if __name__ == "__main__":
    main()
