"""`python -m service` as a process: it serves, and it stops promptly on SIGTERM."""

import os
import signal
import sys

import pytest

from infra.local.processes import ManagedProcess, free_port

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def test_sigterm_stops_the_service_promptly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    service = ManagedProcess(
        "service",
        [sys.executable, "-m", "service"],
        {**os.environ, "SERVICE_PORT": str(port)},
        tmp_path,
        f"http://127.0.0.1:{port}/health",
    )
    service.start()
    assert service.pid is not None
    os.kill(service.pid, signal.SIGTERM)
    # The SDK claims SIGTERM for itself; a service that did not join its hooks never exits.
    # A generous bound: it takes well under a second.
    try:
        assert service.wait(timeout_s=10) == 0, "python -m service ignored SIGTERM"
    finally:
        service.kill()
