"""What the local stack runs with: where things are, which ports, which options."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.processes import free_port
from listener.signing_keys import DEV_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
RESTATE_SERVER = ROOT / "node_modules" / ".bin" / "restate-server"
# The listener's dev-only signing secret, given to both the service and the listener.
LOCAL_WEBHOOK_SECRET = DEV_WEBHOOK_SECRET


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


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
