"""Either HTTP server serves what restate-server needs: HTTP/2 with prior knowledge, full duplex,
HTTP/1.1 for a health check on the same port, and a stop on SIGTERM that never hangs."""

import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
import requests

from infra.local.processes import ManagedProcess, free_port
from service.serving import SHUTDOWN_GRACE_S

pytestmark = pytest.mark.e2e  # a real server process

SERVERS = ["granian", "hypercorn"]


@pytest.fixture(params=SERVERS)
def echo_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ManagedProcess]:
    port = free_port()
    server = ManagedProcess(
        f"echo-{request.param}",
        [sys.executable, "-m", "tests.serving_support", str(port), request.param],
        {**os.environ},
        tmp_path,
        f"http://127.0.0.1:{port}/health",
        ports=[port],
    )
    server.start()
    yield server
    server.kill()


class H2Stream:
    """One HTTP/2 stream with prior knowledge (h2c, as restate-server opens them)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.stream_id = self.conn.get_next_available_stream_id()
        request = [(":method", "POST"), (":path", "/echo"), (":scheme", "http")]
        self.conn.send_headers(self.stream_id, [*request, (":authority", f"127.0.0.1:{port}")])
        self.flush()
        self.received = b""
        self.ended = False

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def send(self, chunk: bytes, end: bool = False) -> None:
        self.conn.send_data(self.stream_id, chunk, end_stream=end)
        self.flush()

    def read_until(self, expected: bytes, timeout_s: float = 5) -> None:
        deadline = time.monotonic() + timeout_s
        while expected not in self.received and not self.ended:
            assert time.monotonic() < deadline, f"waited for {expected!r}: {self.received!r}"
            data = self.sock.recv(65536)
            if not data:
                self.ended = True
                break
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    self.received += event.data
                    self.conn.acknowledge_received_data(len(event.data), event.stream_id)
                elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    self.ended = True
            self.flush()
        assert expected in self.received, f"stream ended before {expected!r}: {self.received!r}"

    def close(self) -> None:
        self.sock.close()


def test_a_request_and_its_response_stream_both_ways_at_once(
    echo_server: ManagedProcess,
) -> None:
    # Each answer arrives while the request is still open: the next chunk is only sent once
    # the previous one's answer came back, as Restate sends a completion after an entry.
    stream = H2Stream(echo_server.ports[0])
    try:
        for number in range(3):
            stream.send(f"ping {number};".encode())
            stream.read_until(f"pong ping {number};".encode())
        stream.send(b"", end=True)
    finally:
        stream.close()


def test_http1_health_is_served_on_the_same_port(echo_server: ManagedProcess) -> None:
    answer = requests.get(f"http://127.0.0.1:{echo_server.ports[0]}/health", timeout=5)
    assert answer.status_code == 200
    assert answer.raw.version == 11  # HTTP/1.1


def test_sigterm_with_a_stream_held_open_stops_within_the_grace(
    echo_server: ManagedProcess,
) -> None:
    # restate-server holds its streams open; a graceful stop must not wait for them forever.
    stream = H2Stream(echo_server.ports[0])
    try:
        stream.send(b"held;")
        stream.read_until(b"pong held;")
        assert echo_server.pid is not None
        began = time.monotonic()
        os.kill(echo_server.pid, signal.SIGTERM)
        assert echo_server.wait(timeout_s=SHUTDOWN_GRACE_S + 5) == 0
        assert time.monotonic() - began < SHUTDOWN_GRACE_S + 5
    finally:
        stream.close()
