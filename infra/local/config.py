"""What the local stack runs with: where things are, which ports, which secret, which options."""

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from envconfig import ENV_CONFIG, load
from infra.local.processes import free_port
from webhooks.keys import DEV_WEBHOOK_SECRET, SigningKeys

ROOT = Path(__file__).resolve().parents[2]
RESTATE_SERVER = ROOT / "node_modules" / ".bin" / "restate-server"
RESTATECTL = ROOT / "node_modules" / ".bin" / "restatectl"


class Ports(BaseSettings):
    """Each port from its environment variable (e.g. RESTATE_INGRESS_PORT), or the default."""

    model_config = ENV_CONFIG

    ingress: int = Field(8080, ge=1, le=65535, validation_alias="RESTATE_INGRESS_PORT")
    admin: int = Field(9070, ge=1, le=65535, validation_alias="RESTATE_ADMIN_PORT")
    fabric: int = Field(5122, ge=1, le=65535, validation_alias="RESTATE_FABRIC_PORT")
    service: int = Field(9080, ge=1, le=65535, validation_alias="SERVICE_PORT")
    athena: int = Field(9200, ge=1, le=65535, validation_alias="LOCAL_ATHENA_PORT")
    listener: int = Field(9000, ge=1, le=65535, validation_alias="LISTENER_PORT")
    lambda_endpoint: int = Field(9300, ge=1, le=65535, validation_alias="LOCAL_LAMBDA_PORT")
    # The service's Prometheus metrics; with several service processes, worker i uses +i.
    metrics: int = Field(9464, ge=1, le=65535, validation_alias="METRICS_PORT")

    @classmethod
    def from_environment(cls) -> "Ports":
        return load(cls)

    @classmethod
    def free(cls) -> "Ports":
        return cls.model_validate({name: free_port() for name in cls.model_fields})


@dataclass(frozen=True)
class NodePorts:
    """The three ports of one Restate node."""

    ingress: int
    admin: int
    fabric: int  # node-to-node, also what restatectl talks to


def node_ports(ports: Ports, nodes: int) -> list[NodePorts]:
    """One node uses the configured ports. In a cluster the configured ingress port (8080) is
    the balancer across every node's ingress, where callers and events go; node i (from 0)
    serves ingress on the next ports (8081, 8082, ...) and admin and node-to-node on the
    configured ports plus i (9070, 9071, ...; 5122, 5123, ...)."""
    if nodes == 1:
        return [NodePorts(ports.ingress, ports.admin, ports.fabric)]
    return [
        NodePorts(ports.ingress + 1 + i, ports.admin + i, ports.fabric + i) for i in range(nodes)
    ]


class StackSecrets(BaseSettings):
    """The webhook secret given to both the service and the listener, so they always agree."""

    model_config = ENV_CONFIG

    webhook_secret: str = Field(DEV_WEBHOOK_SECRET, repr=False)

    @field_validator("webhook_secret")
    @classmethod
    def _decodes(cls, secret: str) -> str:
        SigningKeys.parse(secret)  # a bad secret stops the stack at start, never echoed
        return secret


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
    # False: the local Athena sends only final states, as the EventBridge rule does with
    # -c athenaRunningEvents=false (status shows QUEUED until the query ends).
    running_events: bool = True
    # True: a single node fsyncs its log at each append, as production does; False (the local
    # stack's choice): a killed process loses nothing, a power loss could
    # (restate_settings.UNSYNCED_LOG).
    fsync_log: bool = False
    # Restate nodes: 1 is a single restate-server as always; more form a cluster.
    nodes: int = 1
    # Each node's ports; empty means those `node_ports` derives from the configured ones.
    cluster_ports: list[NodePorts] = field(default_factory=list)
    # A cluster's failure detection and failover tuned for seconds (cluster.FAST_FAILOVER);
    # False keeps restate-server's defaults.
    fast_failover: bool = True
    # Service processes behind the one registered URL.
    service_workers: int = 1
    # The service behind the local Lambda endpoint, registered by ARN, instead of processes.
    use_lambda: bool = False
    # Each worker's own port when there are several; empty means free ports.
    worker_ports: list[int] = field(default_factory=list)
    with_listener: bool = True
    # Extra environment for the service (e.g. POLL_* settings in tests).
    service_env: dict[str, str] = field(default_factory=dict)
    # An OTLP/HTTP traces URL (http://127.0.0.1:4318/v1/traces): restate-server and the
    # service both send their spans there. None: no tracing.
    traces_endpoint: str | None = None
    athena_args: list[str] = field(default_factory=list)
    listener_args: list[str] = field(default_factory=list)


def restate_node_ports(config: StackConfig) -> list[NodePorts]:
    if config.nodes == 1:
        return node_ports(config.ports, 1)
    return config.cluster_ports or node_ports(config.ports, config.nodes)


def ingress_port(config: StackConfig) -> int:
    """Where callers and events reach Restate: the node's ingress, or in a cluster the
    balancer across every node's ingress (never one node: it may be the one that is down)."""
    return config.ports.ingress


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
