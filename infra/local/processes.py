"""Child processes of the local stack: started in their own process group, always stopped."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path


class StackError(Exception):
    """A problem the user can fix; the message says how."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


class ManagedProcess:
    """One named child process, its log file and its health URL."""

    def __init__(
        self, name: str, command: Sequence[str], env: dict[str, str], log_dir: Path, health_url: str
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.health_url = health_url
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            # A process group of its own: stopping it also stops anything it spawned.
            self._process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.wait_healthy(timeout_s)

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {self._process.returncode} while starting; "
                    f"its log is {self.log_path}:\n{self.tail_log()}"
                )
            if is_healthy(self.health_url):
                return
            time.sleep(0.1)
        raise StackError(
            f"{self.name} did not become healthy in {timeout_s:g} s; see {self.log_path}"
        )

    def tail_log(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait(self, timeout_s: float) -> int | None:
        """The exit code, once the process has ended within `timeout_s`; None if it has not."""
        return self._returncode_after(timeout_s)

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no cleanup, no goodbye."""
        self._signal(signal.SIGKILL)
        self._reap(timeout_s=10)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL for whatever is still there after `timeout_s`."""
        self._signal(signal.SIGTERM)
        if not self._reap(timeout_s):
            self.kill()

    def _signal(self, signum: int) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def _reap(self, timeout_s: float) -> bool:
        return self._process is None or self._returncode_after(timeout_s) is not None

    def _returncode_after(self, timeout_s: float) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
