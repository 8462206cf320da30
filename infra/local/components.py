"""The processes of the local stack, each with its command line and environment."""

import os
import sys
from pathlib import Path

from infra.athena_events import local_events_states
from infra.local.athena.workgroups import service_allow_lists
from infra.local.cluster import define_nodes
from infra.local.config import (
    RESTATE_SERVER,
    StackConfig,
    ingress_port,
    local_url,
    restate_node_ports,
)
from infra.local.identity import RequestIdentity, request_identity
from infra.local.lambda_endpoint.wiring import lambda_process, restate_lambda_env
from infra.local.ports import free_port
from infra.local.processes import ManagedProcess
from infra.local.restate_settings import SINGLE_NODE, UNSYNCED_LOG, environment

EVENTS_PATH = "/completion/{queryExecutionId}/onEvent"
EVENTS_STATES = local_events_states()
# Not "restate-...": the stack takes those names for the nodes themselves.
INGRESS_BALANCER = "ingress-balancer"


def define_components(config: StackConfig, log_dir: Path) -> list[ManagedProcess]:
    """Restate (one node or a cluster), the local Athena, the service and maybe the listener,
    in start order."""
    ports = config.ports
    python = sys.executable
    # restate-server signs its requests; the service accepts only what this key signed.
    identity = request_identity(config.base_dir)
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    service_env = {
        **base_env,
        "AWS_ENDPOINT_URL_ATHENA": local_url(ports.athena),
        # The local Athena serves its result files as S3 does, for presigned links.
        "AWS_ENDPOINT_URL_S3": local_url(ports.athena),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "COMPLETION_MODE": config.completion_mode,
        "ALLOW_PRIVATE_CALLBACKS": "true",
        "WEBHOOK_SECRET": config.webhook_secret,
        "RESTATE_IDENTITY_KEYS": identity.public_key,
        # What callers may name: the local Athena's workgroups, catalogs and databases.
        **service_allow_lists(config.data_dir),
        **tracing_env(config.traces_endpoint, "service"),
        **config.service_env,
    }
    # With --lambda, restate-server sends Lambda Invoke calls to the local endpoint.
    restate_env = base_env | (
        restate_lambda_env(ports.lambda_endpoint) if config.use_lambda else {}
    )
    restate_env |= tracing_env(config.traces_endpoint, "restate")
    processes = [
        *define_restate(config, log_dir, identity, restate_env),
        *define_ingress_balancer(config, log_dir, base_env),
        ManagedProcess(
            "athena",
            [
                python,
                "-m",
                "infra.local.athena",
                "--port",
                str(ports.athena),
                "--data",
                str(config.data_dir),
                # Like the EventBridge rule: RUNNING (unless left out) and final states only,
                # straight to the query's mailbox (the id is a path parameter), through the
                # balancer across every node's ingress in a cluster: any node may be the one
                # that is down.
                "--events-url",
                f"{local_url(ingress_port(config))}{EVENTS_PATH}",
                "--events-states",
                local_events_states(config.running_events),
                "--results-dir",
                str(config.base_dir / "athena-results"),  # LocalStack.athena_results_dir
                *config.athena_args,
            ],
            base_env,
            log_dir,
            f"{local_url(ports.athena)}/_local/health",
            ports=[ports.athena],
        ),
        *(
            [lambda_process(ports.lambda_endpoint, service_env, log_dir)]
            if config.use_lambda
            else define_service(config, log_dir, service_env)
        ),
    ]
    if config.with_listener:
        listener_env = {**base_env, "WEBHOOK_SECRET": config.webhook_secret}
        processes.append(
            ManagedProcess(
                "listener",
                [
                    python,
                    "-m",
                    "listener",
                    "--port",
                    str(ports.listener),
                    "--store",
                    str(config.base_dir / "listener" / "deliveries.sqlite3"),
                    # Its page at / pulls each pushed promise from here, to show both.
                    "--ingress",
                    local_url(ingress_port(config)),
                    *config.listener_args,
                ],
                listener_env,
                log_dir,
                f"{local_url(ports.listener)}/health",
                ports=[ports.listener],
            )
        )
    return processes


def tracing_env(endpoint: str | None, who: str) -> dict[str, str]:
    """Where restate-server (OTLP/HTTP: its `otlp+http://` scheme) or the service sends spans."""
    if not endpoint:
        return {}
    if who == "restate":
        return {"RESTATE_TRACING_ENDPOINT": f"otlp+{endpoint}"}
    return {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint}


def single_node(config: StackConfig) -> dict[str, object]:
    """A single node's settings: production's, and its log unsynced unless asked."""
    return SINGLE_NODE if config.fsync_log else {**SINGLE_NODE, **UNSYNCED_LOG}


def define_restate(
    config: StackConfig, log_dir: Path, identity: RequestIdentity, base_env: dict[str, str]
) -> list[ManagedProcess]:
    """One restate-server named `restate`, or a cluster of nodes named restate-1, restate-2..."""
    env = {
        # Sized for one node on a small machine; the caller's environment wins.
        **(environment(single_node(config)) if config.nodes == 1 else {}),
        **base_env,
        "RESTATE_DISABLE_TELEMETRY": "true",
        # Locally a crashed service is back in seconds: retry it often, not once a minute.
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "2s",
    }
    if config.nodes > 1:
        nodes = restate_node_ports(config)
        return define_nodes(
            nodes, config.base_dir, identity.private_key_pem, env, log_dir, config.fast_failover
        )
    ports = config.ports
    env |= {
        "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ports.ingress}",
        "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{ports.admin}",
        "RESTATE_BIND_ADDRESS": f"127.0.0.1:{ports.fabric}",
        "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{ports.fabric}/",
        "RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE": str(identity.private_key_pem),
    }
    command = [str(RESTATE_SERVER), "--base-dir", str(config.base_dir), "--node-name", "local"]
    return [
        ManagedProcess(
            "restate",
            [*command, "--no-logo", "--listen-mode", "tcp"],
            env,
            log_dir,
            f"{local_url(ports.admin)}/health",
            ports=[ports.ingress, ports.admin, ports.fabric],
        )
    ]


def define_ingress_balancer(
    config: StackConfig, log_dir: Path, env: dict[str, str]
) -> list[ManagedProcess]:
    """In a cluster, one address for every node's ingress (as a load balancer in production):
    a node that is down refuses connections, and the balancer passes them to the next one.
    A single node serves its ingress on that address itself."""
    if config.nodes == 1:
        return []
    port = ingress_port(config)
    nodes = restate_node_ports(config)
    backends = [arg for node in nodes for arg in ("--backend", str(node.ingress))]
    return [
        ManagedProcess(
            INGRESS_BALANCER,
            [sys.executable, "-m", "infra.local.balancer", "--port", str(port), *backends],
            env,
            log_dir,
            f"{local_url(port)}/restate/health",  # answered by a node, through the balancer
            ports=[port],
        )
    ]


def define_service(config: StackConfig, log_dir: Path, env: dict[str, str]) -> list[ManagedProcess]:
    """`python -m service` on the service port, or N of them behind a balancer on that port."""
    port, metrics = config.ports.service, config.ports.metrics
    if config.service_workers == 1:
        return [service_process("service", port, env, log_dir, metrics)]
    worker_ports = config.worker_ports or [free_port() for _ in range(config.service_workers)]
    workers = [
        service_process(f"service-{index + 1}", worker_port, env, log_dir, metrics + index)
        for index, worker_port in enumerate(worker_ports)
    ]
    backends = [arg for worker_port in worker_ports for arg in ("--backend", str(worker_port))]
    balancer = ManagedProcess(
        "service",
        [sys.executable, "-m", "infra.local.balancer", "--port", str(port), *backends],
        env,
        log_dir,
        f"{local_url(port)}/health",  # answered by a worker, through the balancer
        ports=[port],
    )
    return [*workers, balancer]


def service_process(
    name: str, port: int, env: dict[str, str], log_dir: Path, metrics_port: int | None = None
) -> ManagedProcess:
    # Each process serves its own metrics on its own port (none: no metrics).
    env = {key: value for key, value in env.items() if key != "METRICS_PORT"}
    if metrics_port is not None:
        env["METRICS_PORT"] = str(metrics_port)
    return ManagedProcess(
        name,
        [sys.executable, "-m", "service"],
        {**env, "SERVICE_PORT": str(port)},
        log_dir,
        f"{local_url(port)}/health",
        ports=[port],
    )
