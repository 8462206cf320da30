"""The main job, end to end: one query, pulled by the long-polling client and pushed."""

import subprocess
import sys
import uuid

from infra.local.stack import LocalStack, StackConfig


def poll(stack: LocalStack, key: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "poller", "--ingress", stack.ingress_url, "--key", key, *extra]
    print(f"\n$ python -m poller --key {key} {' '.join(extra)}".rstrip(), flush=True)
    # stderr (attempts, backoff, progress) goes straight to the terminal; stdout is the result.
    return subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)


def run_demo(config: StackConfig) -> int:
    with LocalStack(config) as stack:
        print(f"Local stack is up: ingress {stack.ingress_url}, Athena {stack.athena_url}")
        key = f"demo-{uuid.uuid4()}"
        # The demo query, with a 0.5 s request timeout: the retries show while Athena works.
        first = poll(stack, key, "--query", DEMO_SQL, "--timeout", "0.5")
        print(first.stdout, end="")
        if first.returncode != 0:
            print(f"The demo query did not succeed (exit {first.returncode}).", file=sys.stderr)
            return first.returncode
        # The same key again: Restate answers from the finished invocation, Athena runs nothing.
        again = poll(stack, key, "--timeout", "0.5")
        print(again.stdout, end="")
        same = "identical" if again.stdout == first.stdout else "DIFFERENT"
        print(f"\nSecond run with the same key: {same} result, served from Restate.")
        return 0 if again.stdout == first.stdout else 1


DEMO_SQL = 'SELECT sum("table"."value") AS answer FROM "demo_db"."table"'
