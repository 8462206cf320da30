"""What each of Restate's primitives costs on this machine, apart from any promise.

`python -m benchmarks.primitives` starts the local stack, serves a small Restate service
beside it (on the same HTTP server and event loop as the promise's), and calls each of its
handlers many times, one at a time and then many at once. Each row prints restate-server's
and that service's CPU per call: the floor under any wrapper built with the kit, and what a
step, a state write or an awakeable adds to it. A row's handler does nothing else, so the
difference between two rows is the primitive's own cost.
"""

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import restate

from benchmarks.costs import cpu_by_component, group_cpu_s
from benchmarks.measure import scratch_workdir
from benchmarks.stats import print_table
from infra.local.ports import free_port
from infra.local.stack import LocalStack, Ports, StackConfig

STEPS = 4
SHARED_KEYS = 8  # the hot-key row: every call's awakeable resolved through one of 8 keys

steps = restate.Service("primitive")
keyed = restate.VirtualObject("primitiveObject")


@steps.handler()
async def nothing(ctx: restate.Context, n: int) -> int:
    return n


@steps.handler()
async def four_steps(ctx: restate.Context, n: int) -> int:
    for i in range(STEPS):
        await ctx.run_typed("step", step_result, i=i)
    return n


def step_result(i: int) -> int:
    return i


@steps.handler()
async def long_timer(ctx: restate.Context, n: int) -> int:
    """A durable timer that is never awaited: what a deadline costs when the job is quick."""
    ctx.sleep(timedelta(hours=1))
    return n


@steps.handler()
async def awakeable(ctx: restate.Context, keys: int) -> int:
    """Park on an awakeable that an object resolves: one key per call, or one of `keys`."""
    name, resolved = ctx.awakeable(type_hint=int)
    digest = hashlib.sha256(name.encode()).hexdigest()
    key = digest if keys == 0 else str(int(digest, 16) % keys)
    ctx.object_send(resolve, key, name)
    return await resolved


@keyed.handler()
async def resolve(ctx: restate.ObjectContext, name: str) -> None:
    ctx.resolve_awakeable(name, 1)


@keyed.handler()
async def four_state_writes(ctx: restate.ObjectContext, n: int) -> int:
    for i in range(STEPS):
        ctx.set("value", i)
    return n


@dataclass(frozen=True)
class Row:
    label: str
    path: str  # KEY is a fresh key for each call
    body: int = 0
    idempotent: bool = False  # each call with an idempotency key of its own


ROWS = (
    Row("one invocation that does nothing", "primitive/nothing"),
    Row("the same, with an idempotency key", "primitive/nothing", idempotent=True),
    Row(f"{STEPS} steps (ctx.run)", "primitive/four_steps"),
    Row(f"{STEPS} state writes, an object of its own", "primitiveObject/KEY/four_state_writes"),
    Row("a durable timer, not awaited", "primitive/long_timer"),
    Row("an awakeable resolved by an object of its own", "primitive/awakeable"),
    Row(f"an awakeable resolved through {SHARED_KEYS} keys", "primitive/awakeable", SHARED_KEYS),
)


async def call_many(ingress: str, row: Row, calls: int, in_flight: int) -> float:
    """Calls a second, every call answered 200."""
    gate = asyncio.Semaphore(in_flight)

    async def one(session: aiohttp.ClientSession) -> None:
        async with gate:
            url = f"{ingress}/{row.path}".replace("KEY", os.urandom(8).hex())
            headers = {"content-type": "application/json"}
            if row.idempotent:
                headers["idempotency-key"] = os.urandom(8).hex()
            async with session.post(url, data=json.dumps(row.body), headers=headers) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"{row.label}: HTTP {answer.status}: {await answer.text()}")

    async with aiohttp.ClientSession() as session:
        began = time.perf_counter()
        await asyncio.gather(*(one(session) for _ in range(calls)))
        return calls / (time.perf_counter() - began)


def measure(
    stack: LocalStack, service_pgid: int, row: Row, calls: int, in_flight: int
) -> list[str]:
    def cpu() -> tuple[float, float]:
        return cpu_by_component(stack)["restate"], group_cpu_s(service_pgid)

    asyncio.run(call_many(stack.ingress_url, row, min(calls, 50), in_flight))  # warm
    restate_before, service_before = cpu()
    rate = asyncio.run(call_many(stack.ingress_url, row, calls, in_flight))
    restate_after, service_after = cpu()

    def per_call(after: float, before: float) -> str:
        return f"{1000 * (after - before) / calls:.2f}"

    return [
        f"{row.label} ({in_flight} in flight)",
        f"{rate:.0f}",
        per_call(restate_after, restate_before),
        per_call(service_after, service_before),
    ]


def register(stack: LocalStack, uri: str) -> None:
    body = json.dumps({"uri": uri, "force": True}).encode()
    request = urllib.request.Request(
        f"{stack.admin_url}/deployments",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def start_service(port: int, identity_keys: str | None, log: Path) -> subprocess.Popen[bytes]:
    """The primitives' service in a process group of its own (its CPU is the group's), signed
    requests checked as the promise's service checks them."""
    env = dict(os.environ, PRIMITIVES_IDENTITY_KEYS=identity_keys or "")
    command = [sys.executable, "-m", "benchmarks.primitives", "--serve", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the primitives' service did not answer on port {port} in 30 s; see {log}")


def serve(port: int) -> None:
    import uvloop

    from service.serving import serve as serve_app

    keys = [key for key in os.environ.get("PRIMITIVES_IDENTITY_KEYS", "").split(",") if key]
    app = restate.app([steps, keyed], identity_keys=keys or None)
    uvloop.run(serve_app(app, "127.0.0.1", port, "granian"))


def run_rows(workdir: Path, calls: int, in_flight: int) -> list[list[str]]:
    """Every row one call at a time, then `in_flight` at once, on a fresh local stack."""
    config = StackConfig(
        base_dir=workdir / "restate", data_dir=workdir / "data", ports=Ports.free()
    )
    rows = []
    with LocalStack(config) as stack:
        identity = stack.processes["service"].env.get("RESTATE_IDENTITY_KEYS")
        port = free_port()
        service = start_service(port, identity, workdir / "primitives.log")
        try:
            register(stack, f"http://127.0.0.1:{port}")
            # A fresh node and process are slower for their first seconds: not the floor.
            asyncio.run(call_many(stack.ingress_url, ROWS[0], 500, 10))
            for concurrency, count in ((1, max(calls // 4, 50)), (in_flight, calls)):
                for row in ROWS:
                    rows.append(measure(stack, service.pid, row, count, concurrency))
        finally:
            os.killpg(service.pid, signal.SIGTERM)
            service.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls a row at load (1000)")
    parser.add_argument("--in-flight", type=int, default=50, help="concurrency at load (50)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    workdir = scratch_workdir("bench-primitives-")
    print("Starting the local stack on free ports...", flush=True)
    try:
        rows = run_rows(workdir, args.calls, args.in_flight)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headers = ["", "calls/s", "CPU ms/call: restate", "service"]
    footnote = (
        "Each row's handler does only what its label says: the first row is the floor of any "
        "invocation, and a row's excess over it is its primitive's cost."
    )
    title = "Restate's primitives, one call at a time and many at once."
    print_table(title, headers, rows, footnote)


if __name__ == "__main__":
    main()
