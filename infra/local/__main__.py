"""`python -m infra.local up` runs the local stack; `... demo` runs the main job on it."""

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from envconfig import SettingsError
from infra.local.demo import run_demo
from infra.local.processes import StackError
from infra.local.stack import LocalStack, StackConfig


def up(config: StackConfig) -> None:
    stack = LocalStack(config)
    stopping = threading.Event()
    # SIGTERM ends the stack as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print("Starting restate-server, the local Athena, the service and the listener...")
    with stack:
        print(f"Restate ingress   {stack.ingress_url}")
        print(f"Restate admin/UI  {stack.admin_url}")
        print(f"service           {stack.service_url} (registered)")
        print(f"local Athena      {stack.athena_url}")
        if config.with_listener:
            print(f"listener          {stack.listener_url}/callback")
        print(f"logs              {stack.log_dir}")
        print("Ready. Try: python -m poller --query 'SELECT 1'   (Ctrl-C stops the stack)")
        with contextlib.suppress(KeyboardInterrupt):
            stopping.wait()
        print("Stopping...")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("command", choices=["up", "demo"])
    parser.add_argument("--base-dir", type=Path, help="Restate's state directory (.restate/)")
    parser.add_argument("--mode", choices=["events", "poll", "both"], default="both")
    args = parser.parse_args(argv)
    try:
        config = StackConfig(completion_mode=args.mode)
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
