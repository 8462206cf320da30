"""Start the local Athena as a real subprocess for tests, and always stop it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a dev dependency, needed by mypy only
    from mypy_boto3_athena import AthenaClient

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalAthena:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    results_dir: Path

    def client(self, max_attempts: int = 3) -> AthenaClient:
        """A stock boto3 client with dummy credentials, pointed at this endpoint."""
        return athena_client(self.url, max_attempts)

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.load(response)

    def stats(self) -> dict[str, Any]:
        return dict(self.get_json("/_local/stats"))

    def configure(self, **changes: Any) -> dict[str, Any]:
        status, answer = self.post("/_local/config", json.dumps(changes).encode())
        assert status == 200, answer
        return dict(answer)

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """A raw POST, for what botocore would refuse to send; returns (status, JSON body)."""
        request = urllib.request.Request(self.url + path, data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_local_athena(data_dir: Path, *flags: str) -> Iterator[LocalAthena]:
    """`python -m infra.local.athena` on a free port, ready once /_local/health answers.

    Result files go to a temporary folder of this server's own, removed with it."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="local-athena-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    results_dir = Path(tempfile.mkdtemp(prefix="local-athena-results-"))
    command = [sys.executable, "-m", "infra.local.athena", "--port", str(port)]
    command += ["--data", str(data_dir), "--results-dir", str(results_dir), *flags]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log_file, stderr=log_file)
    athena = LocalAthena(f"http://127.0.0.1:{port}", process, log_path, results_dir)
    try:
        _wait_until_healthy(athena, deadline=time.monotonic() + 20)
        yield athena
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_path.unlink(missing_ok=True)
        shutil.rmtree(results_dir, ignore_errors=True)


def _wait_until_healthy(athena: LocalAthena, deadline: float) -> None:
    while time.monotonic() < deadline:
        if athena.process.poll() is not None:
            raise RuntimeError(f"local Athena exited early:\n{athena.log()}")
        try:
            if athena.get_json("/_local/health") == {"status": "ok"}:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"local Athena was not healthy within 20 s:\n{athena.log()}")


def athena_client(url: str, max_attempts: int = 3) -> AthenaClient:
    """A stock boto3 client with dummy credentials, pointed at a local Athena's URL."""
    return boto3.client(
        "athena",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "max_attempts": max_attempts}),
    )
