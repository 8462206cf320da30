"""A component is stopped or killed only once every process it started is gone, ports too.

`node_modules/.bin/restate-server` is a Node wrapper around the native server, and hypercorn
with workers forks: waiting for the process we started is not enough to start again.
"""

import sys
import textwrap
import time
from pathlib import Path

import pytest

from infra.local.components import define_components
from infra.local.config import StackConfig
from infra.local.identity import base58, public_key_id, request_identity
from infra.local.ports import LOWEST_PORT, ephemeral_start, port_is_free
from infra.local.process_group import live_members
from infra.local.processes import ManagedProcess, free_port
from infra.local.stack import Ports

# A wrapper like restate-server's: it starts a child that holds the port, and exits at once on
# SIGTERM, while its child takes a second to let go.
WRAPPER = textwrap.dedent(
    """
    import signal, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    child.wait()
    """
)
SLOW_CHILD = textwrap.dedent(
    """
    import http.server, signal, sys, threading, time
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health)
    def slow_exit(*_):
        time.sleep(1)
        sys.exit(0)
    signal.signal(signal.SIGTERM, slow_exit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        time.sleep(0.1)
    """
)


def wrapped_server(tmp_path: Path) -> ManagedProcess:
    port = free_port()
    return ManagedProcess(
        "wrapped",
        [sys.executable, "-c", WRAPPER, SLOW_CHILD, str(port)],
        {},
        tmp_path,
        f"http://127.0.0.1:{port}/",
        ports=[port],
    )


def started(process: ManagedProcess) -> ManagedProcess:
    process.start(timeout_s=20)
    return process


def test_kill_returns_once_the_whole_group_is_gone_and_the_port_is_free(tmp_path: Path) -> None:
    process = started(wrapped_server(tmp_path))
    assert process.pid is not None
    assert len(live_members(process.pid)) == 2  # the wrapper and its child
    process.kill()
    assert live_members(process.pid) == []
    assert port_is_free(process.ports[0])


def test_stop_waits_for_a_child_that_is_slower_than_its_wrapper(tmp_path: Path) -> None:
    process = started(wrapped_server(tmp_path))
    assert process.pid is not None
    began = time.monotonic()
    process.stop()
    assert live_members(process.pid) == []
    assert port_is_free(process.ports[0])
    assert time.monotonic() - began >= 0.9  # it did wait for the child's slow goodbye


def test_kill_and_stop_of_a_process_that_already_ended_return_at_once(tmp_path: Path) -> None:
    process = ManagedProcess("quick", [sys.executable, "-c", "pass"], {}, tmp_path, "", ports=[1])
    assert process.pid is None
    process.kill()
    process.stop()


def test_the_public_key_is_restates_compact_form() -> None:
    assert base58(b"\0\0\x01") == "112"
    assert base58(bytes([0xFF] * 2)) == "LUv"
    key = public_key_id(bytes(range(32)))
    assert key.startswith("publickeyv1_")
    with pytest.raises(ValueError, match="32 bytes"):
        public_key_id(b"short")


def test_one_key_pair_per_base_dir_made_once_and_reused(tmp_path: Path) -> None:
    first = request_identity(tmp_path / "a")
    assert request_identity(tmp_path / "a") == first
    assert request_identity(tmp_path / "b").public_key != first.public_key
    assert first.private_key_pem.stat().st_mode & 0o077 == 0


@pytest.mark.e2e
def test_restate_killed_and_restarted_at_once_starts_on_free_ports(tmp_path: Path) -> None:
    config = StackConfig(base_dir=tmp_path / "restate", ports=Ports.free())
    (tmp_path / "logs").mkdir()
    restate = define_components(config, tmp_path / "logs")[0]
    assert restate.name == "restate"
    restate.start()
    try:
        # restate-server logs the public key it signs with: the one the service is given.
        identity = request_identity(config.base_dir)
        assert identity.public_key in restate.log_path.read_text()
        for _ in range(3):
            assert restate.pid is not None
            assert len(live_members(restate.pid)) == 2  # the Node wrapper and the server
            restate.kill()
            assert live_members(restate.pid) == []
            assert all(port_is_free(port) for port in restate.ports)
            restate.start()
    finally:
        restate.stop()


def test_free_ports_lie_below_the_range_of_outgoing_connections_and_never_repeat() -> None:
    # An outgoing connection can take a port of that range between the pick and the bind.
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(LOWEST_PORT <= port < ephemeral_start() for port in ports)
    assert all(port_is_free(port) for port in ports)
