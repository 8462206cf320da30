"""Child processes of the local stack: started in their own process group, always stopped."""

import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from infra.local.ports import free_port, port_is_free
from infra.local.process_group import signal_group, wait_group_gone, wait_ports_free

__all__ = ["ManagedProcess", "StackError", "free_port", "is_healthy", "port_is_free"]

# How long a component's processes and ports may take to go once it was killed or stopped.
GONE_TIMEOUT_S = 15.0


class StackError(Exception):
    """A problem the user can fix; the message says how."""


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


class ManagedProcess:
    """One named child process, its log file and its health URL."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: dict[str, str],
        log_dir: Path,
        health_url: str,
        ports: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.health_url = health_url
        # The ports it listens on: free again before kill() or stop() returns.
        self.ports = list(ports)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = 60.0) -> None:
        self.launch()
        self.wait_healthy(timeout_s)

    def launch(self) -> None:
        """Start the process without waiting for it (e.g. cluster nodes that need each other)."""
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
        """SIGKILL to the whole group, as a crash would: no cleanup, no goodbye.

        Returns once every process of the group is gone and its ports are free, so a start
        right after it cannot meet "address in use".
        """
        if self._process is None:
            return
        running = signal_group(self._process.pid, signal.SIGKILL)
        self._returncode_after(GONE_TIMEOUT_S)
        self._wait_gone(ports=running)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL for whatever of the group is still there after `timeout_s`."""
        if self._process is None:
            return
        running = signal_group(self._process.pid, signal.SIGTERM)
        self._returncode_after(timeout_s)
        if wait_group_gone(self._process.pid, timeout_s=1.0):
            self._wait_gone(ports=running)
        else:
            self.kill()

    def _wait_gone(self, *, ports: bool) -> None:
        """Wait for the group to go, and for the ports too if it was still running."""
        assert self._process is not None
        if not wait_group_gone(self._process.pid, GONE_TIMEOUT_S):
            raise StackError(
                f"{self.name} (process group {self._process.pid}) still runs "
                f"{GONE_TIMEOUT_S:g} s after SIGKILL."
            )
        taken = wait_ports_free(self.ports, GONE_TIMEOUT_S) if ports else []
        if taken:
            raise StackError(
                f"{self.name} has stopped, but port {', '.join(map(str, taken))} is still "
                f"in use {GONE_TIMEOUT_S:g} s later."
            )

    def _returncode_after(self, timeout_s: float) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
