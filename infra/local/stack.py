"""The local stack: restate-server, the local Athena, the service and the listener, wired up.

Used by `python -m infra.local up`, by `make demo` and by the end-to-end tests, so what the
tests exercise is what a user runs.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.processes import ManagedProcess, StackError, free_port, port_is_free

ROOT = Path(__file__).resolve().parents[2]
RESTATE_SERVER = ROOT / "node_modules" / ".bin" / "restate-server"
# A dev-only signing secret, shared by the service and the listener of the local stack.
LOCAL_WEBHOOK_SECRET = "whsec_bG9jYWwtZGV2ZWxvcG1lbnQtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbg=="


@dataclass
class Ports:
    ingress: int = 8080
    admin: int = 9070
    fabric: int = 5122
    service: int = 9080
    athena: int = 9200
    listener: int = 9000

    @classmethod
    def from_environment(cls) -> "Ports":
        def port(name: str, default: int) -> int:
            return int(os.environ.get(name) or default)

        return cls(
            ingress=port("RESTATE_INGRESS_PORT", 8080),
            admin=port("RESTATE_ADMIN_PORT", 9070),
            fabric=port("RESTATE_FABRIC_PORT", 5122),
            service=port("SERVICE_PORT", 9080),
            athena=port("LOCAL_ATHENA_PORT", 9200),
            listener=port("LISTENER_PORT", 9000),
        )

    @classmethod
    def free(cls) -> "Ports":
        return cls(*(free_port() for _ in range(6)))


@dataclass
class StackConfig:
    base_dir: Path = ROOT / ".restate"
    data_dir: Path = ROOT / "data"
    ports: Ports = field(default_factory=Ports.from_environment)
    completion_mode: str = "both"
    with_listener: bool = True
    # Extra environment for the service (e.g. POLL_* settings in tests).
    service_env: dict[str, str] = field(default_factory=dict)
    athena_args: list[str] = field(default_factory=list)
    listener_args: list[str] = field(default_factory=list)


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.ports = config.ports
        self.log_dir = config.base_dir / "logs"
        self.processes: dict[str, ManagedProcess] = {}

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ingress}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.admin}"

    @property
    def athena_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.athena}"

    @property
    def listener_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.listener}"

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.service}"

    def start(self) -> None:
        self._preflight()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for process in self._define_processes():
                self.processes[process.name] = process
                process.start()
            self.register_deployment()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def restart(self, name: str, *, kill: bool = True) -> None:
        """Crash (SIGKILL) or stop one component and start it again on the same state."""
        process = self.processes[name]
        process.kill() if kill else process.stop()
        process.start()
        if name == "restate":
            self.register_deployment()

    def register_deployment(self) -> None:
        """Tell Restate where the service is. Safe to repeat: the same endpoint is a no-op."""
        body = json.dumps({"uri": self.service_url, "force": False}).encode()
        request = urllib.request.Request(
            f"{self.admin_url}/deployments",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30):
                return
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise StackError(
                f"Restate refused to register the service at {self.service_url} "
                f"(HTTP {error.code}): {detail}. If the service's handlers changed "
                f"incompatibly, remove {self.config.base_dir} and start again."
            ) from None

    def _preflight(self) -> None:
        if not RESTATE_SERVER.exists():
            raise StackError(
                f"restate-server is not installed ({RESTATE_SERVER} is missing). "
                "Run `make setup` (it runs `npm ci`) first."
            )
        wanted = {
            "Restate ingress": self.ports.ingress,
            "Restate admin": self.ports.admin,
            "Restate node-to-node": self.ports.fabric,
            "service": self.ports.service,
            "local Athena": self.ports.athena,
        }
        if self.config.with_listener:
            wanted["listener"] = self.ports.listener
        taken = [f"{port} ({what})" for what, port in wanted.items() if not port_is_free(port)]
        if taken:
            raise StackError(
                f"Port {', '.join(taken)} is already in use. Stop whatever uses it "
                "(another `python -m infra.local up`?) or choose other ports with "
                "RESTATE_INGRESS_PORT, RESTATE_ADMIN_PORT, RESTATE_FABRIC_PORT, SERVICE_PORT, "
                "LOCAL_ATHENA_PORT and LISTENER_PORT."
            )

    def _define_processes(self) -> list[ManagedProcess]:
        python = sys.executable
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        restate_env = {
            **base_env,
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ports.ingress}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.ports.admin}",
            "RESTATE_BIND_ADDRESS": f"127.0.0.1:{self.ports.fabric}",
            "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{self.ports.fabric}/",
            "RESTATE_DISABLE_TELEMETRY": "true",
            # Locally a crashed service is back in seconds: retry it often, not once a minute.
            "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "2s",
        }
        service_env = {
            **base_env,
            "SERVICE_PORT": str(self.ports.service),
            "AWS_ENDPOINT_URL_ATHENA": self.athena_url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "COMPLETION_MODE": self.config.completion_mode,
            "ALLOW_PRIVATE_CALLBACKS": "true",
            "WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
            **self.config.service_env,
        }
        processes = [
            ManagedProcess(
                "restate",
                [
                    str(RESTATE_SERVER),
                    "--base-dir",
                    str(self.config.base_dir),
                    "--node-name",
                    "local",
                    "--no-logo",
                    "--listen-mode",
                    "tcp",
                ],
                restate_env,
                self.log_dir,
                f"{self.admin_url}/health",
            ),
            ManagedProcess(
                "athena",
                [
                    python,
                    "-m",
                    "infra.local.athena",
                    "--port",
                    str(self.ports.athena),
                    "--data",
                    str(self.config.data_dir),
                    "--events-url",
                    f"{self.ingress_url}/athenaEvents/onStateChange",
                    *self.config.athena_args,
                ],
                base_env,
                self.log_dir,
                f"{self.athena_url}/_local/health",
            ),
            ManagedProcess(
                "service",
                [python, "-m", "service"],
                service_env,
                self.log_dir,
                f"{self.service_url}/health",
            ),
        ]
        if self.config.with_listener:
            listener_env = {**base_env, "WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET}
            processes.append(
                ManagedProcess(
                    "listener",
                    [
                        python,
                        "-m",
                        "listener",
                        "--port",
                        str(self.ports.listener),
                        "--store",
                        str(self.config.base_dir / "listener" / "deliveries.sqlite3"),
                        *self.config.listener_args,
                    ],
                    listener_env,
                    self.log_dir,
                    f"{self.listener_url}/health",
                )
            )
        return processes
