"""`python -m service` as a process: it serves, it stops promptly on SIGTERM, and its garbage
collector runs as service/collector.py sets it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.local.processes import ManagedProcess, free_port
from service.collector import YOUNG_THRESHOLD
from service.memory import REPORT_ENV

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def started_service(tmp_path: Path, **env: str) -> tuple[ManagedProcess, int]:
    """`python -m service` on a free port, once its health check answers; and the port."""
    port = free_port()
    service = ManagedProcess(
        "service",
        [sys.executable, "-m", "service"],
        {**os.environ, "SERVICE_PORT": str(port), **env},
        tmp_path,
        f"http://127.0.0.1:{port}/health",
    )
    service.start()  # its health check is a first request (HTTP/1.1): the SDK's hook is in
    assert service.pid is not None
    return service, port


@pytest.mark.parametrize("http_server", ["granian", "hypercorn"])
def test_sigterm_stops_the_service_promptly(tmp_path, http_server) -> None:  # type: ignore[no-untyped-def]
    service, port = started_service(tmp_path, SERVICE_HTTP_SERVER=http_server)
    assert service.pid is not None
    # And HTTP/2 with prior knowledge on the same port, as restate-server speaks it.
    discover = [f"http://127.0.0.1:{port}/discover", "-o", "/dev/null", "-w", "%{http_version}"]
    h2 = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", *discover],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert h2.stdout == "2", h2
    os.kill(service.pid, signal.SIGTERM)
    # The SDK claims SIGTERM for itself; a service that did not join its hooks never exits.
    # A generous bound: it takes well under a second.
    try:
        assert service.wait(timeout_s=10) == 0, "python -m service ignored SIGTERM"
    finally:
        service.kill()


def test_the_served_process_freezes_its_startup_heap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What service/collector.py promises, read from the running process's own memory
    report: the heap it was built with frozen, out of every collection's way, and the
    young generation's threshold raised."""
    report = tmp_path / "memory.jsonl"
    service, _ = started_service(tmp_path, **{REPORT_ENV: str(report)})
    assert service.pid is not None
    try:
        os.kill(service.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not (report.exists() and report.read_text().strip()):
            assert time.monotonic() < deadline, "no memory report from the service"
            time.sleep(0.1)
        seen = json.loads(report.read_text().splitlines()[0])
        # The SDK, pydantic's schemas and the endpoint are tens of thousands of objects.
        assert seen["gc_frozen_objects"] > 10_000, seen["gc_frozen_objects"]
        # And the young generation collected seldom: invocations leave no cycles behind.
        assert seen["gc_thresholds"][0] == YOUNG_THRESHOLD, seen["gc_thresholds"]
    finally:
        service.kill()
