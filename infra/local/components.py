"""The four processes of the local stack, each with its command line and environment."""

import os
import sys
from pathlib import Path

from infra.local.config import RESTATE_SERVER, StackConfig, local_url
from infra.local.identity import request_identity
from infra.local.processes import ManagedProcess


def define_components(config: StackConfig, log_dir: Path) -> list[ManagedProcess]:
    """restate-server, the local Athena, the service and maybe the listener, in start order."""
    ports = config.ports
    python = sys.executable
    # restate-server signs its requests; the service accepts only what this key signed.
    identity = request_identity(config.base_dir)
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    restate_env = {
        **base_env,
        "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ports.ingress}",
        "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{ports.admin}",
        "RESTATE_BIND_ADDRESS": f"127.0.0.1:{ports.fabric}",
        "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{ports.fabric}/",
        "RESTATE_DISABLE_TELEMETRY": "true",
        "RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE": str(identity.private_key_pem),
        # Locally a crashed service is back in seconds: retry it often, not once a minute.
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "2s",
    }
    service_env = {
        **base_env,
        "SERVICE_PORT": str(ports.service),
        "AWS_ENDPOINT_URL_ATHENA": local_url(ports.athena),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "COMPLETION_MODE": config.completion_mode,
        "ALLOW_PRIVATE_CALLBACKS": "true",
        "WEBHOOK_SECRET": config.webhook_secret,
        "RESTATE_IDENTITY_KEYS": identity.public_key,
        **config.service_env,
    }
    processes = [
        ManagedProcess(
            "restate",
            [
                str(RESTATE_SERVER),
                "--base-dir",
                str(config.base_dir),
                "--node-name",
                "local",
                "--no-logo",
                "--listen-mode",
                "tcp",
            ],
            restate_env,
            log_dir,
            f"{local_url(ports.admin)}/health",
            ports=[ports.ingress, ports.admin, ports.fabric],
        ),
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
                "--events-url",
                f"{local_url(ports.ingress)}/athenaEvents/onStateChange",
                "--results-dir",
                str(config.base_dir / "athena-results"),  # LocalStack.athena_results_dir
                *config.athena_args,
            ],
            base_env,
            log_dir,
            f"{local_url(ports.athena)}/_local/health",
            ports=[ports.athena],
        ),
        ManagedProcess(
            "service",
            [python, "-m", "service"],
            service_env,
            log_dir,
            f"{local_url(ports.service)}/health",
            ports=[ports.service],
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
                    *config.listener_args,
                ],
                listener_env,
                log_dir,
                f"{local_url(ports.listener)}/health",
                ports=[ports.listener],
            )
        )
    return processes
