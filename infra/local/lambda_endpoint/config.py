"""What the local Lambda endpoint serves, and with which limits; read from the command line."""

import argparse
from dataclasses import dataclass, field

# Lambda's own bounds: a timeout of at most 15 minutes, memory from 128 MB to 10,240 MB.
MAX_TIMEOUT_S = 900.0
DEFAULT_HANDLER = "service.app:app"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class EndpointConfig:
    functions: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 9300
    handler: str = DEFAULT_HANDLER
    # Reserved concurrency: invocations of one function running at once; more are throttled.
    concurrency: int = 10
    timeout_s: float = MAX_TIMEOUT_S
    memory_mb: int = 512
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    # Extra environment for the workers, on top of the endpoint's own.
    worker_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.functions:
            raise ValueError("give at least one function name with --function NAME")
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(f"--timeout must be above 0 and at most {MAX_TIMEOUT_S:g} s")
        if self.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        if not 128 <= self.memory_mb <= 10_240:
            raise ValueError("--memory must be from 128 to 10240 (MB)")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"


def parse_args(argv: list[str] | None = None) -> EndpointConfig:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.lambda_endpoint",
        description="A local AWS Lambda Invoke API that runs the Restate service's Lambda "
        "handler in worker processes.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9300, help="port to listen on")
    parser.add_argument(
        "--function",
        dest="functions",
        action="append",
        required=True,
        metavar="NAME",
        help="a function name to serve (repeatable); any version or alias of it is accepted",
    )
    parser.add_argument(
        "--handler", default=DEFAULT_HANDLER, help="module:attribute of the Lambda handler"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="reserved concurrency per function"
    )
    parser.add_argument(
        "--timeout",
        dest="timeout_s",
        type=float,
        default=MAX_TIMEOUT_S,
        help="seconds an invocation may run (at most 900)",
    )
    parser.add_argument("--memory", dest="memory_mb", type=int, default=512, help="MB")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    args = parser.parse_args(argv)
    try:
        return EndpointConfig(
            functions=tuple(args.functions),
            host=args.host,
            port=args.port,
            handler=args.handler,
            concurrency=args.concurrency,
            timeout_s=args.timeout_s,
            memory_mb=args.memory_mb,
            region=args.region,
            account=args.account,
        )
    except ValueError as error:
        parser.error(str(error))
