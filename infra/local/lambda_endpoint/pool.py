"""The workers of one function: started on demand, reused while warm, at most N busy at once.

Each worker is a process of its own (`worker.py`), so a crash, a hang or a kill ends that
invocation only. A worker that timed out or crashed is discarded, as Lambda discards the
execution environment; one that answered (result or raised error) stays warm for the next.
"""

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .stats import FunctionStats, InFlight

# The Invoke API's synchronous payload limit is 6 MB each way; lines carry base64 JSON.
LINE_LIMIT = 16 * 1024 * 1024
WORKER_MODULE = "infra.local.lambda_endpoint.worker"


@dataclass
class Outcome:
    """How one invocation ended: `payload` (the handler's JSON) or `error` (Lambda's shape)."""

    payload: bytes | None = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    billed_ms: int = 0
    init_ms: float | None = None  # set on a cold start


class Throttled(Exception):
    """Every unit of the function's reserved concurrency is busy."""


class Worker:
    def __init__(self, process: asyncio.subprocess.Process, init_ms: float) -> None:
        self.process = process
        self.init_ms = init_ms

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    @classmethod
    async def spawn(cls, handler: str, env: dict[str, str]) -> "Worker":
        """A new worker process; it imports the handler (init) until `ready` says it is done."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            handler,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        return cls(process, 0.0)

    async def ready(self, timeout_s: float) -> None:
        """Wait for the init to end; WorkerInitError with Lambda's payload if it failed."""
        try:
            line = await self._read(timeout_s)
        except TimeoutError:
            await self.kill()
            raise WorkerInitError(_runtime_error("Sandbox.Timedout", "init timed out")) from None
        if not line:
            code = await self.process.wait()
            raise WorkerInitError(_runtime_error("Runtime.ExitError", _exit_text(code)))
        answer = json.loads(line)
        if not answer["ready"]:
            await self.kill()
            raise WorkerInitError({**answer["error"], "errorType": "Runtime.ImportModuleError"})
        self.init_ms = float(answer["init_ms"])

    async def run(self, job: dict[str, Any], timeout_s: float) -> Outcome:
        """Send one job; the handler's answer, or a timeout or crash error (worker gone)."""
        assert self.process.stdin is not None
        started = time.perf_counter()
        try:
            self.process.stdin.write(json.dumps(job).encode() + b"\n")
            await self.process.stdin.drain()
            line = await self._read(timeout_s)
        except TimeoutError:
            await self.kill()
            message = (
                f"RequestId: {job['request_id']} Error: "
                f"Task timed out after {timeout_s:.2f} seconds"
            )
            return Outcome(
                error=_runtime_error("Sandbox.Timedout", message), duration_ms=timeout_s * 1000
            )
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:
            code = await self.process.wait()
            message = f"RequestId: {job['request_id']} Error: {_exit_text(code)}"
            elapsed = (time.perf_counter() - started) * 1000
            return Outcome(error=_runtime_error("Runtime.ExitError", message), duration_ms=elapsed)
        answer = json.loads(line)
        if "payload" in answer:
            return Outcome(payload=answer["payload"].encode(), duration_ms=answer["duration_ms"])
        return Outcome(error=answer["error"], duration_ms=answer["duration_ms"])

    async def kill(self) -> None:
        if self.alive:
            self.process.kill()
        await self.process.wait()

    async def _read(self, timeout_s: float) -> bytes:
        assert self.process.stdout is not None
        return await asyncio.wait_for(self.process.stdout.readline(), timeout_s)


class WorkerInitError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage", "init failed"))
        self.payload = payload


@dataclass
class FunctionPool:
    name: str
    handler: str
    env: dict[str, str]
    concurrency: int
    timeout_s: float
    stats: FunctionStats = field(default_factory=FunctionStats)
    idle: list[Worker] = field(default_factory=list)
    running: dict[str, InFlight] = field(default_factory=dict)
    workers: set[Worker] = field(default_factory=set)

    async def invoke(self, invocation: InFlight, job: dict[str, Any]) -> Outcome:
        """Run one job on a warm or new worker; Throttled if N are busy already."""
        if len(self.running) >= self.concurrency:
            self.stats.throttles += 1
            raise Throttled
        self.running[invocation.request_id] = invocation
        self.stats.peak_concurrency = max(self.stats.peak_concurrency, len(self.running))
        try:
            return await self._invoke(invocation, job)
        finally:
            del self.running[invocation.request_id]

    async def _invoke(self, invocation: InFlight, job: dict[str, Any]) -> Outcome:
        init_ms: float | None = None
        worker = self._warm_worker()
        if worker is None:
            worker = await Worker.spawn(self.handler, self.env)
            invocation.worker_pid = worker.pid
            self.workers.add(worker)
            self.stats.cold_starts += 1
            try:
                await worker.ready(self.timeout_s)
            except WorkerInitError as error:
                self.workers.discard(worker)
                self.stats.errors += 1
                return Outcome(error=error.payload)
            init_ms = worker.init_ms
            self.stats.init_ms += init_ms
        invocation.worker_pid = worker.pid
        outcome = await worker.run(job, self.timeout_s)
        outcome.billed_ms = self.stats.record(outcome.duration_ms)
        outcome.init_ms = init_ms
        if outcome.error is not None:
            self.stats.errors += 1
            if outcome.error["errorType"] == "Sandbox.Timedout":
                self.stats.timeouts += 1
            elif outcome.error["errorType"] == "Runtime.ExitError":
                self.stats.crashes += 1
        # A result or a raised error leaves the environment warm; a timeout or crash does not.
        if worker.alive:
            self.idle.append(worker)
        else:
            self.workers.discard(worker)
        return outcome

    def _warm_worker(self) -> Worker | None:
        while self.idle:
            worker = self.idle.pop()
            if worker.alive:
                return worker
            self.workers.discard(worker)  # died while idle (killed from outside)
        return None

    async def close(self) -> None:
        workers, self.workers, self.idle = list(self.workers), set(), []
        await asyncio.gather(*(worker.kill() for worker in workers))


def _runtime_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"Runtime exited with error: signal {-code}"
    return f"Runtime exited with error: exit status {code}"
