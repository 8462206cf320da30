"""How the local stack puts the service behind the local Lambda endpoint.

Three pieces, used by `python -m infra.local up --lambda` and by the Lambda tests:
- `lambda_process`: the endpoint as a managed process, with the service's environment;
- `restate_lambda_env`: what restate-server needs to send Invoke calls to it;
- `registration`: the admin API body that registers the deployment by ARN.
"""

import sys
from pathlib import Path
from typing import Any

from infra.local.processes import ManagedProcess

from .config import DEFAULT_ACCOUNT, DEFAULT_REGION

FUNCTION_NAME = "athena-promise"
# Restate registers a published version, never $LATEST: a new version is a new deployment.
FUNCTION_VERSION = "1"


def function_arn(
    name: str = FUNCTION_NAME,
    version: str | None = FUNCTION_VERSION,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{version}" if version else arn


def restate_lambda_env(lambda_port: int, region: str = DEFAULT_REGION) -> dict[str, str]:
    """restate-server's AWS SDK reads these: where Lambda is, and (fake) credentials to sign
    its calls with. The local endpoint does not check signatures."""
    return {
        "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{lambda_port}",
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }


def lambda_process(
    port: int,
    service_env: dict[str, str],
    log_dir: Path,
    *,
    name: str = FUNCTION_NAME,
    concurrency: int = 10,
    timeout_s: float = 900.0,
) -> ManagedProcess:
    """The local Lambda endpoint serving `name`; its workers run the service with
    `service_env` (AWS_ENDPOINT_URL_ATHENA, WEBHOOK_SECRET, RESTATE_IDENTITY_KEYS, ...)."""
    return ManagedProcess(
        "lambda",
        [
            sys.executable,
            "-m",
            "infra.local.lambda_endpoint",
            "--port",
            str(port),
            "--function",
            name,
            "--concurrency",
            str(concurrency),
            "--timeout",
            f"{timeout_s:g}",
        ],
        {**service_env, "PYTHONUNBUFFERED": "1"},
        log_dir,
        f"http://127.0.0.1:{port}/_local/health",
        ports=[port],
    )


def registration(
    arn: str, assume_role_arn: str | None = None, force: bool = False
) -> dict[str, Any]:
    """`POST /deployments` body for a Lambda deployment (Restate's admin API)."""
    body: dict[str, Any] = {"arn": arn, "force": force}
    if assume_role_arn:
        body["assume_role_arn"] = assume_role_arn
    return body
