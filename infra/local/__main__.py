"""`python -m infra.local up` runs the local stack; `... demo` runs the main job on it."""

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from envconfig import SettingsError
from infra.local.config import local_url
from infra.local.demo import run_demo
from infra.local.lambda_endpoint.wiring import function_arn
from infra.local.processes import StackError
from infra.local.stack import LocalStack, StackConfig


def up(config: StackConfig) -> None:
    stack = LocalStack(config)
    stopping = threading.Event()
    # SIGTERM ends the stack as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    restate = f"a {config.nodes}-node Restate cluster" if stack.is_cluster else "restate-server"
    print(f"Starting {restate}, the local Athena, the service and the listener...")
    with stack:
        if stack.is_cluster:
            print(stack.restatectl().status().rstrip())
            print(f"Restate ingress   {stack.ingress_url} (a balancer across every node's)")
            for index, node in enumerate(stack.nodes):
                print(f"node-{index + 1} ingress    {local_url(node.ingress)}")
                print(f"node-{index + 1} admin/UI   {local_url(node.admin)}")
        else:
            print(f"Restate ingress   {stack.ingress_url}")
            print(f"Restate admin/UI  {stack.admin_url}")
        workers = config.service_workers
        processes = f", {workers} processes" if workers > 1 else ""
        if config.use_lambda:
            arn = function_arn()
            print(f"local Lambda      {stack.lambda_url} ({arn}, registered; /_local/stats)")
        else:
            print(f"service           {stack.service_url} (registered{processes})")
        for url in stack.metrics_urls:
            print(f"service metrics   {url}")
        for url in stack.restate_metrics_urls:
            print(f"Restate metrics   {url}")
        if config.traces_endpoint:
            print(f"traces to         {config.traces_endpoint} (restate-server and the service)")
        print(f"local Athena      {stack.athena_url}")
        if config.with_listener:
            print(f"listener          {stack.listener_url}/callback")
            print(f"listener page     {stack.listener_url}/ (push next to pull, live)")
        print(f"logs              {stack.log_dir}")
        print("Ready. Try: python -m poller --query 'SELECT 1'   (Ctrl-C stops the stack)")
        with contextlib.suppress(KeyboardInterrupt):
            stopping.wait()
        print("Stopping...")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("command", choices=["up", "demo"])
    parser.add_argument("--base-dir", type=Path, help="Restate's state directory (.restate/)")
    parser.add_argument("--mode", choices=["events", "poll", "both"], default="both")
    parser.add_argument(
        "--nodes",
        type=positive,
        default=1,
        help="Restate nodes; more than 1 runs a cluster with replication 2 (use 3)",
    )
    parser.add_argument(
        "--service-workers",
        type=positive,
        default=1,
        help="service processes behind the one registered URL",
    )
    parser.add_argument(
        "--lambda",
        dest="use_lambda",
        action="store_true",
        help="run the service behind a local AWS Lambda endpoint, registered by ARN",
    )
    parser.add_argument(
        "--no-running-events",
        dest="running_events",
        action="store_false",
        help="the local Athena sends only final states (one invocation a query fewer; status "
        "shows QUEUED until the query ends), as -c athenaRunningEvents=false does on AWS",
    )
    parser.add_argument(
        "--fsync-log",
        action="store_true",
        help="restate-server fsyncs its log at each append, as a production node does (the "
        "local stack does not: a killed process loses nothing, a power loss could)",
    )
    parser.add_argument(
        "--traces-to",
        metavar="URL",
        help="an OTLP/HTTP traces endpoint (http://127.0.0.1:4318/v1/traces) for "
        "restate-server's spans and the service's",
    )
    args = parser.parse_args(argv)
    if args.use_lambda and args.service_workers > 1:
        parser.error("--service-workers has no meaning with --lambda: Lambda scales itself")
    try:
        config = StackConfig(
            completion_mode=args.mode,
            nodes=args.nodes,
            service_workers=args.service_workers,
            use_lambda=args.use_lambda,
            traces_endpoint=args.traces_to,
            running_events=args.running_events,
            fsync_log=args.fsync_log,
        )
        if args.base_dir:
            config.base_dir = args.base_dir.resolve()
        if args.command == "up":
            up(config)
            return 0
        return run_demo(config)
    except (StackError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
