"""Several service processes behind one URL: a small TCP round-robin balancer.

Restate registers one URL for the service. Locally, N `python -m service` processes each
listen on a port of their own, and this forwards every TCP connection to the next one that
accepts it. It works at the TCP level, so Restate's HTTP/2 (h2c) passes through untouched.
A process that dies takes only its own connections with it: Restate retries those
invocations, and the next connections go to the processes that are left.

Why not `hypercorn --workers N`: hypercorn 0.18 stops every worker when one of them exits
with an error, so one crashed process would take the whole service down.

    python -m infra.local.balancer --port 9080 --backend 9081 --backend 9082
"""

import argparse
import asyncio
import contextlib
import itertools
import signal

CONNECT_TIMEOUT_S = 2.0


class RoundRobin:
    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend that accepts a connection, trying each at most once."""
        for _ in self.backends:
            port = self.backends[next(self._next)]
            with contextlib.suppress(OSError, TimeoutError):
                return await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_S
                )
        return None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = await self.connect()
        if backend is None:
            writer.close()  # nothing to talk to: Restate sees a refused request and retries
            return
        backend_reader, backend_writer = backend
        await asyncio.gather(
            pipe(reader, backend_writer), pipe(backend_reader, writer), return_exceptions=True
        )


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        # One side ended or broke: end the other, so neither hangs half-open.
        writer.close()


async def run(port: int, backends: list[int]) -> None:
    balancer = RoundRobin(backends)
    server = await asyncio.start_server(balancer.serve, "127.0.0.1", port, reuse_address=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with server:
        await stopping.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.balancer", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="where Restate connects")
    parser.add_argument(
        "--backend", type=int, action="append", required=True, help="a service process's port"
    )
    args = parser.parse_args(argv)
    asyncio.run(run(args.port, args.backend))


if __name__ == "__main__":
    main()
