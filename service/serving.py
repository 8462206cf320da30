"""Serve a Restate endpoint (the SDK's ASGI app) on uvloop, with granian or hypercorn.

granian (HTTP/2 in Rust) spends about a quarter less CPU a query than hypercorn (HTTP/2 in
Python), measured in docs/benchmarks.md; hypercorn stays one setting away
(`SERVICE_HTTP_SERVER=hypercorn`), as deployments and Restate's own docs use it. Either serves
HTTP/2 with prior knowledge (what restate-server speaks, full duplex) and HTTP/1.1 (a `/health`
check) on one port, in this one process: the stack scales with processes, not workers.
"""

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Literal, cast

from restate.server import install_shutdown_hook

from service import collector, memory
from service.promisify import connections

HttpServer = Literal["granian", "hypercorn"]

# Restate holds its HTTP/2 connections open, so a graceful close can wait forever. Every
# invocation is journaled: whatever a stop cuts short, Restate retries, here or on a replica.
SHUTDOWN_GRACE_S = 2.0


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(app: object, host: str, port: int, http_server: HttpServer = "granian") -> None:
    """Serve a Restate endpoint (the SDK's ASGI app) on host:port until SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The SDK takes SIGTERM for itself (it tells running invocations to wind down); join its
    # hooks rather than replace them, or the process would never stop. Neither server installs
    # signal handlers of its own here: this function owns the stop.
    install_shutdown_hook(loop, stopping.set, signal.SIGTERM)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    memory.install(loop)  # a benchmark's memory report on SIGUSR1, when asked for
    collector.settle_startup_heap()  # the endpoint is built: its heap is never walked again
    # A burst of open invocations leaves glibc holding their freed pages once they suspend;
    # hand them back now and then (docs/benchmarks.md, "Memory per parked promise").
    trimmer = asyncio.create_task(memory.release_freed_memory_every())
    run = _granian if http_server == "granian" else _hypercorn
    server = asyncio.create_task(run(app, host, port, stopping.wait))
    await asyncio.wait(
        {server, asyncio.create_task(stopping.wait())}, return_when="FIRST_COMPLETED"
    )
    trimmer.cancel()
    done, _ = await asyncio.wait({server}, timeout=SHUTDOWN_GRACE_S)
    if not done:
        logging.shutdown()
        os._exit(0)
    await connections.close_all()  # the connections kept alive, closed like the server's
    server.result()  # a server that could not start (a port in use) says why


async def _granian(
    app: object, host: str, port: int, shutdown_trigger: Callable[[], Awaitable[object]]
) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    # Embedded in this loop (no worker process of its own, so no signal handler of its own
    # to fight the SDK's); ASGI without lifespan, which the SDK's app does not implement.
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGINL,
        http=HTTPModes.auto,
        websockets=False,
    )

    async def stop_when_told() -> None:
        await shutdown_trigger()
        server.stop()

    stopper = asyncio.create_task(stop_when_told())
    try:
        await server.serve()
    finally:
        stopper.cancel()


async def _hypercorn(
    app: object, host: str, port: int, shutdown_trigger: Callable[[], Awaitable[object]]
) -> None:
    import hypercorn
    import hypercorn.asyncio
    from hypercorn.typing import ASGIFramework

    config = hypercorn.Config()
    config.bind = [bind_address(host, port)]
    config.graceful_timeout = SHUTDOWN_GRACE_S
    # The SDK types its app as Any; it is an ASGI 3 callable, which is what hypercorn takes.
    # hypercorn serves h2c (prior knowledge) and HTTP/1.1 on the same port.
    await hypercorn.asyncio.serve(
        cast(ASGIFramework, app),
        config,
        shutdown_trigger=cast(Callable[..., Awaitable[None]], shutdown_trigger),
    )
