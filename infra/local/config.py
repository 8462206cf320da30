"""What the local stack runs with: where things are, which ports, which secret, which options."""

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from envconfig import ENV_CONFIG, load
from infra.local.processes import free_port
from webhooks.keys import DEV_WEBHOOK_SECRET, SigningKeys

ROOT = Path(__file__).resolve().parents[2]
RESTATE_SERVER = ROOT / "node_modules" / ".bin" / "restate-server"


class Ports(BaseSettings):
    """Each port from its environment variable (e.g. RESTATE_INGRESS_PORT), or the default."""

    model_config = ENV_CONFIG

    ingress: int = Field(8080, ge=1, le=65535, validation_alias="RESTATE_INGRESS_PORT")
    admin: int = Field(9070, ge=1, le=65535, validation_alias="RESTATE_ADMIN_PORT")
    fabric: int = Field(5122, ge=1, le=65535, validation_alias="RESTATE_FABRIC_PORT")
    service: int = Field(9080, ge=1, le=65535, validation_alias="SERVICE_PORT")
    athena: int = Field(9200, ge=1, le=65535, validation_alias="LOCAL_ATHENA_PORT")
    listener: int = Field(9000, ge=1, le=65535, validation_alias="LISTENER_PORT")

    @classmethod
    def from_environment(cls) -> "Ports":
        return load(cls)

    @classmethod
    def free(cls) -> "Ports":
        return cls.model_validate({name: free_port() for name in cls.model_fields})


class StackSecrets(BaseSettings):
    """The webhook secret given to both the service and the listener, so they always agree."""

    model_config = ENV_CONFIG

    webhook_secret: str = Field(DEV_WEBHOOK_SECRET, repr=False)

    def model_post_init(self, _context: object) -> None:
        SigningKeys.parse(self.webhook_secret)  # a bad secret stops the stack at start


def webhook_secret() -> str:
    """WEBHOOK_SECRET when it is set, else the published development secret."""
    return load(StackSecrets).webhook_secret


@dataclass
class StackConfig:
    base_dir: Path = ROOT / ".restate"
    data_dir: Path = ROOT / "data"
    ports: Ports = field(default_factory=Ports.from_environment)
    webhook_secret: str = field(default_factory=webhook_secret, repr=False)
    completion_mode: str = "both"
    with_listener: bool = True
    # Extra environment for the service (e.g. POLL_* settings in tests).
    service_env: dict[str, str] = field(default_factory=dict)
    athena_args: list[str] = field(default_factory=list)
    listener_args: list[str] = field(default_factory=list)


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
