"""Local TCP ports: a free one for tests, and whether one can be bound again."""

import random
import socket
from pathlib import Path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# Where the kernel takes the local ports of outgoing connections (Linux's default; macOS
# starts at 49152). A listening port picked in that range can be taken by any process's
# outgoing connection between the pick and the server's bind (seen: a stack's service failed
# with "Address already in use" while three other stacks ran), so ports are picked below it.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_START = 32768
LOWEST_PORT = 10000
# Handed out by this process and perhaps not bound yet: never handed out twice.
_handed_out: set[int] = set()


def ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def free_port() -> int:
    """A port nothing is bound to, below the range of outgoing connections' ports."""
    top = ephemeral_start()
    for _ in range(1000 if top > LOWEST_PORT + 100 else 0):
        port = random.randrange(LOWEST_PORT, top)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    # A kernel whose outgoing range leaves nothing below it: take its choice.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bindable(port: int) -> bool:
    """Strictly free: without SO_REUSEADDR, so a port still in TIME_WAIT is passed over."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
