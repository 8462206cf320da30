"""Several backends behind one URL: a small TCP round-robin balancer.

The local stack uses it twice:
- **service processes**: Restate registers one URL for the service; N `python -m service`
  processes each listen on a port of their own behind it. Restate's HTTP/2 (h2c) passes
  through untouched. A process that dies takes only its own connections with it: Restate
  retries those invocations, and the next connections go to the processes that are left.
- **the cluster's ingress**: every node of a Restate cluster serves ingress; callers and the
  local Athena's events go to this balancer, never to one node, as production puts a load
  balancer in front of the nodes (an EventBridge API destination pointed at one node would
  lose every event while that node is down).

A backend that refuses a connection (a killed process's port is closed at once) is skipped
for the next one within the same connection attempt, and for COOLDOWN_S after it, so a dead
node costs no one a wait. The balancer forwards bytes, not requests: it never sends a
request to a second backend once a byte of it went to the first, so it never doubles one.
A connection that breaks mid-request (its backend died) breaks for the client too, and the
client retries as it would against any server: the local Athena retries an event like
EventBridge does (the mailbox takes a repeated event as a duplicate), callers re-attach
(attaching is a read) and re-send with the same idempotency key (Restate de-duplicates it).

Why not `hypercorn --workers N` for the service: hypercorn 0.18 stops every worker when one
of them exits with an error, so one crashed process would take the whole service down.

    python -m infra.local.balancer --port 9080 --backend 9081 --backend 9082
"""

import argparse
import asyncio
import contextlib
import itertools
import signal
import time

CONNECT_TIMEOUT_S = 2.0
# How long a backend that refused (or timed out) is passed over before it is tried again.
COOLDOWN_S = 1.0


class RoundRobin:
    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))
        # Port -> monotonic time until which it is passed over.
        self._cooling: dict[int, float] = {}

    def _order(self) -> list[int]:
        """Every backend once, from the next in turn; those cooling down after a failure
        last, so they are tried only if no other accepts."""
        start = next(self._next)
        ports = [self.backends[(start + i) % len(self.backends)] for i in range(len(self.backends))]
        now = time.monotonic()
        return sorted(ports, key=lambda port: self._cooling.get(port, 0.0) > now)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend that accepts a connection, trying each at most once."""
        for port in self._order():
            with contextlib.suppress(OSError, TimeoutError):
                connection = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_S
                )
                self._cooling.pop(port, None)
                return connection
            self._cooling[port] = time.monotonic() + COOLDOWN_S
        return None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = await self.connect()
        if backend is None:
            writer.close()  # nothing to talk to: the client sees a refused request and retries
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
    parser.add_argument("--port", type=int, required=True, help="where clients connect")
    parser.add_argument(
        "--backend", type=int, action="append", required=True, help="a backend's port"
    )
    args = parser.parse_args(argv)
    asyncio.run(run(args.port, args.backend))


if __name__ == "__main__":
    main()
