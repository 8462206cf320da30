"""`python -m service` as a process: it serves, and it stops promptly on SIGTERM."""

import os
import signal
import subprocess
import sys

import pytest

from infra.local.processes import ManagedProcess, free_port

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


@pytest.mark.parametrize("http_server", ["granian", "hypercorn"])
def test_sigterm_stops_the_service_promptly(tmp_path, http_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, "SERVICE_PORT": str(port), "SERVICE_HTTP_SERVER": http_server}
    service = ManagedProcess(
        "service",
        [sys.executable, "-m", "service"],
        env,
        tmp_path,
        f"http://127.0.0.1:{port}/health",
    )
    service.start()  # its health check is a first request (HTTP/1.1): the SDK's hook is in
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
